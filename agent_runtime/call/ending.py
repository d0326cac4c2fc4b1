"""How a call ends. The first decision wins; everything after it only carries it out."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

from ..report.model import AttemptStatus, EndedBy


@dataclass(frozen=True)
class Outcome:
    """Who ended the call and why."""

    ended_by: EndedBy
    end_reason: str
    status: AttemptStatus = "completed"
    error: str | None = None


USER_HANGUP = Outcome("user", "user_hangup")
MAX_DURATION = Outcome("system", "max_duration")
END_CALL_TOOL = Outcome("agent", "tool_end_call")
LLM_DOWN = Outcome("system", "llm_error", status="error", error="the LLM failed turn after turn")


class CallEnding:
    """The call's single end decision, and an event for whoever waits for it."""

    def __init__(self) -> None:
        self._outcome: Outcome | None = None
        self._decided = asyncio.Event()

    @property
    def outcome(self) -> Outcome | None:
        """The decision, once made."""
        return self._outcome

    def decide(self, outcome: Outcome) -> bool:
        """Record ``outcome`` unless the end was already decided; True if this call decided."""
        if self._outcome is not None:
            return False
        self._outcome = outcome
        self._decided.set()
        return True

    async def wait(self) -> Outcome:
        """Wait for the decision."""
        await self._decided.wait()
        assert self._outcome is not None
        return self._outcome
