"""What a mode reads from its environment to run calls.

The providers, the integrations, and how every call runs: turn-taking, stored clips, and the
lines said when a provider fails.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Self

from pydantic import Field, model_validator

from ..integrations.settings import IntegrationSettings
from ..providers import ProviderSettings
from ..settings import EnvModel
from .clip_store import DEFAULT_DIR, ClipStore
from .session import TurnOptions

RECOVERY_LINE = "Sorry, I missed that. Could you say it again?"
"""Said when the LLM fails a turn after its retries, so the caller is not left in silence."""
FAILURE_LINE = (
    "I am sorry, we are having technical difficulties. Please call us back later. Goodbye."
)
"""Said before hanging up when the providers keep failing and the session gives up."""
TRANSFER_LINE = "Please hold, I am transferring you now."
"""Said, uninterruptible, right before the call is transferred to a person."""
MAX_ENDPOINTING_SECONDS = 10.0
"""Longest endpointing delay accepted: a caller waits this long in silence."""


class CallSettings(EnvModel):
    """How every call runs.

    ``AGENT_MIN/MAX_ENDPOINTING_DELAY``, ``AGENT_CLIP_CACHE_DIR``, ``AGENT_RECOVERY_LINE``,
    ``AGENT_FAILURE_LINE`` and ``AGENT_TRANSFER_LINE`` (an empty line: say nothing).
    """

    KEEP_EMPTY = frozenset({"AGENT_RECOVERY_LINE", "AGENT_FAILURE_LINE", "AGENT_TRANSFER_LINE"})

    min_endpointing_delay: float = Field(
        TurnOptions.min_endpointing_delay,
        ge=0,
        le=MAX_ENDPOINTING_SECONDS,
        alias="AGENT_MIN_ENDPOINTING_DELAY",
    )
    max_endpointing_delay: float = Field(
        TurnOptions.max_endpointing_delay,
        ge=0,
        le=MAX_ENDPOINTING_SECONDS,
        alias="AGENT_MAX_ENDPOINTING_DELAY",
    )
    clip_cache_dir: str = Field("", alias="AGENT_CLIP_CACHE_DIR")
    """Where rendered sentences are kept for later calls; ``off`` disables; unset: the
    user's cache directory."""
    recovery_line: str = Field(RECOVERY_LINE, alias="AGENT_RECOVERY_LINE")
    failure_line: str = Field(FAILURE_LINE, alias="AGENT_FAILURE_LINE")
    transfer_line: str = Field(TRANSFER_LINE, alias="AGENT_TRANSFER_LINE")

    @model_validator(mode="after")
    def _delays_in_order(self) -> Self:
        if self.min_endpointing_delay > self.max_endpointing_delay:
            raise ValueError(
                f"AGENT_MIN_ENDPOINTING_DELAY ({self.min_endpointing_delay:g} s) is longer than"
                f" AGENT_MAX_ENDPOINTING_DELAY ({self.max_endpointing_delay:g} s)"
            )
        return self

    def turn(self) -> TurnOptions:
        """The turn-taking options these settings give."""
        return replace(
            TurnOptions(),
            min_endpointing_delay=self.min_endpointing_delay,
            max_endpointing_delay=self.max_endpointing_delay,
        )

    def clip_store(self) -> ClipStore | None:
        """The store of rendered sentences (None when ``off``)."""
        value = self.clip_cache_dir.strip()
        if value.lower() == "off":
            return None
        return ClipStore(Path(value) if value else DEFAULT_DIR)


class RuntimeSettings(EnvModel):
    """Everything the console and the worker read from the environment to run calls."""

    providers: ProviderSettings = Field(default_factory=ProviderSettings)
    integrations: IntegrationSettings = Field(default_factory=IntegrationSettings)
    call: CallSettings = Field(default_factory=CallSettings)
