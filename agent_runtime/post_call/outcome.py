"""The call's outcome, one of the API's six, and a short summary of why.

The LLM calls ``save_outcome`` with one of the outcomes, each defined for it precisely, and a
short explanation quoting the caller. An outcome outside the six gets one corrective retry.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, get_args

from livekit.agents import llm

from ..config.assistant import Outcome
from .llm_json import AskError, BadAnswer, ask_checked

OUTCOME_TOOL = "save_outcome"
"""The tool the LLM calls with the outcome (recorded calls script it by this name)."""

SUMMARY_CHARS = 300
"""The longest summary kept; a longer one is clipped at a word."""

OUTCOMES: tuple[Outcome, ...] = get_args(Outcome)
"""The six outcomes of the API, in its order."""

DEFINITIONS: dict[Outcome, str] = {
    "do_not_contact": "the caller asked not to be called again, or to be removed from the list",
    "requested_callback_new_number": "the caller asked to be called back on another number",
    "requested_callback_later": "the caller asked to be called back later, on the same number",
    "completed": "the call's purpose was achieved (question answered, appointment booked, "
    "information given or collected)",
    "interested": "the caller showed interest (asked for details, wanted a next step) but the "
    "call's purpose was not achieved yet",
    "not_interested": "the caller declined or showed no interest, without asking not to be "
    "called again; also when the caller hung up before any real conversation",
}
"""What each outcome means, in order of precedence, as the LLM reads it."""

SYSTEM = (
    "You classify a finished phone call between an AI agent and a caller. Pick the one outcome "
    "that fits; when several fit, the first of this list wins:\n"
    + "\n".join(f"- {name}: {meaning}" for name, meaning in DEFINITIONS.items())
    + "\n\nExplain your choice in one or two sentences that quote the caller's own words, at "
    f"most {SUMMARY_CHARS} characters. Answer by calling {OUTCOME_TOOL}."
)
"""The instructions of the outcome request: the outcomes defined, the summary asked."""

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "outcome": {"type": "string", "enum": list(OUTCOMES)},
        "summary": {
            "type": "string",
            "description": f"Why, quoting the caller; at most {SUMMARY_CHARS} characters.",
        },
    },
    "required": ["outcome", "summary"],
    "additionalProperties": False,
}


@dataclass(frozen=True)
class OutcomeResult:
    """The call's outcome and its summary, or None for both and the problem.

    Attributes:
        outcome: One of the six outcomes.
        summary: Why, quoting the caller, at most ``SUMMARY_CHARS`` characters.
        problem: Why there is no outcome, in a few words (no secret, no transcript).
    """

    outcome: Outcome | None
    summary: str | None
    problem: str | None = None


async def decide_outcome(
    model: llm.LLM,
    *,
    transcript: str,
    timeout: float,  # noqa: ASYNC109 - bounds each request
) -> OutcomeResult:
    """Ask the LLM which outcome the call had, and why.

    Args:
        model: The call's text LLM.
        transcript: The call as text (``transcript_text``).
        timeout: Seconds each request may take.
    """
    try:
        outcome, summary = await ask_checked(
            model,
            check_outcome,
            system=SYSTEM,
            user=f"Transcript:\n{transcript}",
            tool_name=OUTCOME_TOOL,
            tool_description="Saves the call's outcome and why.",
            schema=_SCHEMA,
            timeout=timeout,
        )
    except AskError as err:
        return OutcomeResult(outcome=None, summary=None, problem=str(err))
    return OutcomeResult(outcome=outcome, summary=summary)


def check_outcome(raw: dict[str, Any]) -> tuple[Outcome, str]:
    """The outcome and the clipped summary of the LLM's arguments.

    Raises:
        BadAnswer: The outcome is not one of the six, or the summary is not a text.
    """
    outcome = next((o for o in OUTCOMES if o == raw.get("outcome")), None)
    summary = raw.get("summary")
    text = summary.strip() if isinstance(summary, str) else ""
    if outcome is not None and text:
        return outcome, clip(text, SUMMARY_CHARS)
    problems = [
        "" if outcome else f"outcome must be one of {', '.join(OUTCOMES)}",
        "" if text else "summary must be a short text",
    ]
    raise BadAnswer("; ".join(filter(None, problems)))


def clip(text: str, limit: int) -> str:
    """``text`` if it fits in ``limit`` characters, else cut at a word and ended with "…"."""
    if len(text) <= limit:
        return text
    cut = text[: limit - 1]
    if " " in cut:
        cut = cut.rsplit(" ", 1)[0]
    return cut.rstrip(" ,;:.") + "…"
