"""What a guard is, and what it returns."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

from ..ending import Outcome


@dataclass(frozen=True)
class Goodbye:
    """A last sentence said before hanging up: which static sentence, and its text."""

    sentence: str
    """The name of the pre-rendered sentence (``max_duration_end_message``...)."""
    text: str | None
    """What is said; None or empty: hang up without a word."""


@dataclass(frozen=True)
class Ending:
    """A guard's decision that the call must end, and how."""

    outcome: Outcome
    goodbye: Goodbye | None = None
    """Said before hanging up; None when nobody is left to hear it."""
    event: str | None = None
    """The call event recorded when the guard fires."""
    at_once: bool = False
    """True when the line is already gone (the caller hung up): nothing more is said."""


class Guard(Protocol):
    """One way a call is ended or steered."""

    @property
    def name(self) -> str:
        """A short name, for task names and logs."""
        ...

    async def watch(self) -> Ending:
        """Return the ending once this guard calls for one; until then, wait (or steer)."""
        ...
