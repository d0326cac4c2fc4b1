"""What a mode reads from its environment to run calls.

The providers, the integrations, and how every call runs: turn-taking, stored clips, and the
lines said when a provider fails.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path
from typing import Any, Self

from pydantic import Field, model_validator

from ..integrations.settings import IntegrationSettings
from ..providers import ProviderSettings
from ..settings import EnvModel
from .clip_store import DEFAULT_DIR, ClipStore
from .guards.idle import HANGUP_AFTER, PROMPT_AFTER
from .options import (
    FAILURE_LINE,
    HOLDING_LINE,
    RECOVERY_LINE,
    TRANSFER_LINE,
    TRANSFER_RING_TIMEOUT,
    RunOptions,
)
from .session import TurnOptions

MAX_ENDPOINTING_SECONDS = 10.0
"""Longest endpointing delay accepted: a caller waits this long in silence."""
MAX_INTERRUPTION_SECONDS = 5.0
"""Longest caller speech required before it interrupts the agent."""
MAX_IDLE_SECONDS = 600.0
"""Longest idle wait accepted (a silent line is not kept open longer)."""


class CallSettings(EnvModel):
    """How every call runs.

    ``AGENT_MIN/LIKELY/UNSURE/MAX_ENDPOINTING_DELAY``, ``AGENT_MIN_INTERRUPTION_DURATION``,
    ``AGENT_MIN_INTERRUPTION_WORDS``, ``AGENT_FALSE_INTERRUPTION_TIMEOUT``,
    ``AGENT_IDLE_PROMPT_AFTER`` and
    ``AGENT_IDLE_HANGUP_AFTER``, ``AGENT_CLIP_CACHE_DIR``, ``AGENT_RECOVERY_LINE``,
    ``AGENT_FAILURE_LINE``, ``AGENT_TRANSFER_LINE`` and ``AGENT_HOLDING_LINE`` (an empty line:
    say nothing), ``AGENT_TRANSFER_RING_TIMEOUT``, ``AGENT_CAPTURE``.
    """

    KEEP_EMPTY = frozenset(
        {"AGENT_RECOVERY_LINE", "AGENT_FAILURE_LINE", "AGENT_TRANSFER_LINE", "AGENT_HOLDING_LINE"}
    )

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
    likely_endpointing_delay: float = Field(
        TurnOptions.likely_endpointing_delay,
        ge=0,
        le=MAX_ENDPOINTING_SECONDS,
        alias="AGENT_LIKELY_ENDPOINTING_DELAY",
    )
    unsure_endpointing_delay: float = Field(
        TurnOptions.unsure_endpointing_delay,
        ge=0,
        le=MAX_ENDPOINTING_SECONDS,
        alias="AGENT_UNSURE_ENDPOINTING_DELAY",
    )
    min_interruption_duration: float = Field(
        TurnOptions.min_interruption_duration,
        ge=0.05,
        le=MAX_INTERRUPTION_SECONDS,
        alias="AGENT_MIN_INTERRUPTION_DURATION",
    )
    """Seconds of caller speech before it holds the agent's voice."""
    min_interruption_words: int = Field(
        TurnOptions.min_interruption_words, ge=0, le=10, alias="AGENT_MIN_INTERRUPTION_WORDS"
    )
    """Words (not backchannels) transcribed before caller speech holds the agent; 0: the sound
    alone holds it (sooner; a backchannel's words then let it go on)."""
    false_interruption_timeout: float = Field(
        TurnOptions.false_interruption_timeout,
        ge=0.1,
        le=MAX_INTERRUPTION_SECONDS,
        alias="AGENT_FALSE_INTERRUPTION_TIMEOUT",
    )
    """Seconds after caller speech that brought no words before the held agent resumes."""
    idle_prompt_after: float = Field(
        PROMPT_AFTER, ge=0, le=MAX_IDLE_SECONDS, alias="AGENT_IDLE_PROMPT_AFTER"
    )
    """Seconds of silence before "Are you still there?"; 0: never (nor the idle hang-up)."""
    idle_hangup_after: float = Field(
        HANGUP_AFTER, gt=0, le=MAX_IDLE_SECONDS, alias="AGENT_IDLE_HANGUP_AFTER"
    )
    """Seconds of silence after that question before the goodbye."""
    clip_cache_dir: str = Field("", alias="AGENT_CLIP_CACHE_DIR")
    """Where rendered sentences are kept for later calls; ``off`` disables; unset: the
    user's cache directory."""
    recovery_line: str = Field(RECOVERY_LINE, alias="AGENT_RECOVERY_LINE")
    failure_line: str = Field(FAILURE_LINE, alias="AGENT_FAILURE_LINE")
    transfer_line: str = Field(TRANSFER_LINE, alias="AGENT_TRANSFER_LINE")
    holding_line: str = Field(HOLDING_LINE, alias="AGENT_HOLDING_LINE")
    transfer_ring_timeout: float = Field(
        TRANSFER_RING_TIMEOUT, gt=0, le=120, alias="AGENT_TRANSFER_RING_TIMEOUT"
    )
    """Seconds a warm transfer rings the colleague before giving up."""
    capture: bool = Field(False, alias="AGENT_CAPTURE")
    """Keep what a replay of each call needs (``capture.json``); it holds the caller's words."""

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
            likely_endpointing_delay=self.likely_endpointing_delay,
            unsure_endpointing_delay=self.unsure_endpointing_delay,
            min_interruption_duration=self.min_interruption_duration,
            min_interruption_words=self.min_interruption_words,
            false_interruption_timeout=self.false_interruption_timeout,
            idle_prompt_after=self.idle_prompt_after or None,
            idle_hangup_after=self.idle_hangup_after,
        )

    def run_options(self, **call: Any) -> RunOptions:
        """How each call runs with these settings.

        ``call``: what is this call's own (its output directory, attempt id, hooks...).
        """
        return RunOptions(
            turn=self.turn(),
            clip_store=self.clip_store(),
            recovery_line=self.recovery_line or None,
            failure_line=self.failure_line or None,
            transfer_line=self.transfer_line or None,
            holding_line=self.holding_line or None,
            transfer_ring_timeout=self.transfer_ring_timeout,
            capture=self.capture,
            **call,
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
