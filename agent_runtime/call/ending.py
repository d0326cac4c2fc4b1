"""How a call ends. The first decision wins; everything after it only carries it out."""

from __future__ import annotations

from dataclasses import dataclass

from ..config.attempt import AttemptStatus, DialError, EndedBy
from ..errors import DialFailed


@dataclass(frozen=True)
class Outcome:
    """Who ended the call and why."""

    ended_by: EndedBy
    end_reason: str
    status: AttemptStatus = "completed"
    error: str | None = None
    dial_error: DialError | None = None


USER_HANGUP = Outcome("user", "user_hangup")
MAX_DURATION = Outcome("system", "max_duration")
END_CALL_TOOL = Outcome("agent", "tool_end_call")
LLM_DOWN = Outcome("system", "llm_error", status="error", error="the LLM failed turn after turn")
VOICE_DOWN = Outcome(
    "system", "tts_error", status="error", error="the voice failed turn after turn"
)
TRANSFERRED = Outcome("agent", "transfer")
SHUTDOWN = Outcome("system", "shutdown", status="error", error="the process was asked to stop")


def not_answered(failure: DialFailed) -> Outcome:
    """The outcome of an outbound call that was not answered."""
    return Outcome(
        "system", "dial_error", status="error", error=str(failure), dial_error=failure.dial_error
    )


class CallEnding:
    """The call's single end decision."""

    def __init__(self) -> None:
        self._outcome: Outcome | None = None

    @property
    def outcome(self) -> Outcome | None:
        """The decision, once made."""
        return self._outcome

    def decide(self, outcome: Outcome) -> bool:
        """Record ``outcome`` unless the end was already decided; True if this call decided."""
        if self._outcome is not None:
            return False
        self._outcome = outcome
        return True
