"""How to run a call, beyond its config and its ports; the lines said when something fails."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from pathlib import Path

from livekit.agents import stt
from livekit.agents.voice import io

from ..config.attempt import AttemptStatus, TranscriptRow
from .clip_store import ClipStore
from .session import TurnOptions

RECOVERY_LINE = "Sorry, I missed that. Could you say it again?"
"""Said when the LLM fails a turn after its retries, so the caller is not left in silence."""
FAILURE_LINE = (
    "I am sorry, we are having technical difficulties. Please call us back later. Goodbye."
)
"""Said before hanging up when the providers keep failing and the session gives up."""
TRANSFER_LINE = "Please hold, I am transferring you now."
"""Said, uninterruptible, right before the call is transferred to a person."""
HOLDING_LINE = "One moment, please."
TRANSFER_RING_TIMEOUT = 30.0
"""Seconds a warm transfer lets the colleague's phone ring before nobody answered."""
"""Said while the caller waits on a slow or stuck answer (a hung LLM, a tool still running)."""


@dataclass(frozen=True)
class RunOptions:
    """How to run a call, beyond its config and its ports."""

    turn: TurnOptions = field(default_factory=TurnOptions)
    output_dir: Path | None = None
    """Where ``report.json`` and ``recording.wav`` are written (nothing written when None)."""
    attempt_id: str | None = None
    started_at: float | None = None
    """When the call attempt started (dialling), if before the runner; default: now."""
    typed_turns: AsyncIterator[str] | None = None
    """Caller turns typed as text (the console's text mode), taken as said."""
    on_row: Callable[[TranscriptRow, float], None] | None = None
    """Called with every transcript row as it is added, and when it began in seconds from the
    answer (the console and replay print them)."""
    agent_words: io.TextOutput | None = None
    """Where the agent's words go as they are spoken, in step with its voice (the console)."""
    recovery_line: str | None = RECOVERY_LINE
    """Said when the LLM fails a turn; None: say nothing."""
    failure_line: str | None = FAILURE_LINE
    """Said before hanging up a call whose session failed; None: hang up silently."""
    clip_store: ClipStore | None = None
    """Where rendered sentences without prompt variables are kept for later calls (the worker:
    ``AGENT_CLIP_CACHE_DIR``); None: in this process's memory only."""
    transfer_line: str | None = TRANSFER_LINE
    """Said, uninterruptible, before the call is transferred; None: say nothing."""
    on_status: Callable[[AttemptStatus], None] | None = None
    """Called as the attempt's status changes: queued, ringing, ongoing, completed or error."""
    capture: bool = False
    """Also write ``capture.json`` (what a replay of the call needs) next to the report."""
    stop_on_sigterm: bool = False
    """SIGTERM ends the call as a shutdown does (the console and replay; the worker's own
    shutdown drains its calls instead)."""
    holding_line: str | None = HOLDING_LINE
    """Said when the caller has waited ``watchdog.HOLD_AFTER`` seconds for an answer; None:
    say nothing."""
    transfer_ring_timeout: float = TRANSFER_RING_TIMEOUT
    """Seconds a warm transfer rings the colleague before giving up (``no_answer``)."""
    consultation_stt: Callable[[], stt.STT] | None = None
    """What hears the colleague on a warm transfer's consultation leg (replay: their recorded
    transcripts); None: the call's own STT."""
