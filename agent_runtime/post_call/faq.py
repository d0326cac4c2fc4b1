"""FAQ candidates: what the caller asked that the assistant could not answer.

The LLM reads the assistant's instructions, its FAQ and the call, and calls
``save_faq_candidates`` with the caller's unanswered questions in their own words. The
questions are deduplicated, ignoring case and punctuation, against each other and against the
FAQ; at most ``MAX_QUESTIONS`` are kept.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from livekit.agents import llm

from ..config.assistant import FaqItem
from .llm_json import AskError, BadAnswer, ask_checked

FAQ_TOOL = "save_faq_candidates"
"""The tool the LLM calls with the questions (recorded calls script it by this name)."""

MAX_QUESTIONS = 5
"""The most questions kept from one call."""

SYSTEM = (
    "You review a finished phone call between an AI agent and a caller, to improve the agent's "
    "FAQ. List the questions the caller asked that the agent's instructions and FAQ below do "
    "not answer (the agent did not know, guessed, or promised to find out). Write each in the "
    "caller's own words, as a question. Leave out questions the instructions or the FAQ answer, "
    "requests that are not questions, and small talk. No such question: an empty list. "
    f"At most {MAX_QUESTIONS}. Answer by calling {FAQ_TOOL}."
)
"""The instructions of the FAQ request."""

_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "questions": {
            "type": "array",
            "items": {"type": "string"},
            "description": "The caller's unanswered questions, in their words.",
        }
    },
    "required": ["questions"],
    "additionalProperties": False,
}
_NOT_WORD = re.compile(r"[^\w\s]+")


@dataclass(frozen=True)
class FaqResult:
    """The questions worth adding to the FAQ, or none and the problem that prevented them.

    Attributes:
        questions: At most ``MAX_QUESTIONS``, none already in the FAQ.
        problem: Why there are none, in a few words (no secret, no transcript).
    """

    questions: list[str] = field(default_factory=list)
    problem: str | None = None


async def faq_candidates(
    model: llm.LLM,
    *,
    transcript: str,
    instructions: str,
    faq: list[FaqItem],
    timeout: float,  # noqa: ASYNC109 - bounds each request
) -> FaqResult:
    """Ask the LLM for the caller's questions that ``instructions`` and ``faq`` do not answer.

    Args:
        model: The call's text LLM.
        transcript: The call as text (``transcript_text``).
        instructions: The assistant's prompt, as the agent had it.
        faq: The assistant's FAQ items.
        timeout: Seconds each request may take.
    """
    try:
        questions = await ask_checked(
            model,
            check_questions,
            system=SYSTEM,
            user=_material(instructions, faq, transcript),
            tool_name=FAQ_TOOL,
            tool_description="Saves the caller's questions that the agent could not answer.",
            schema=_SCHEMA,
            timeout=timeout,
        )
    except AskError as err:
        return FaqResult(problem=str(err))
    return FaqResult(questions=new_questions(questions, (item.question for item in faq)))


def check_questions(raw: dict[str, Any]) -> list[str]:
    """The questions of the LLM's arguments, blank ones left out.

    Raises:
        BadAnswer: ``questions`` is not a list of texts.
    """
    questions = raw.get("questions")
    if not isinstance(questions, list) or not all(isinstance(q, str) for q in questions):
        raise BadAnswer("questions must be a list of texts")
    return [q.strip() for q in questions if q.strip()]


def new_questions(questions: list[str], known: Iterable[str]) -> list[str]:
    """``questions`` without repeats or ``known`` ones (case, punctuation ignored); at most 5."""
    seen = {_key(question) for question in known}
    kept: list[str] = []
    for question in questions:
        key = _key(question)
        if key and key not in seen:
            seen.add(key)
            kept.append(question)
    return kept[:MAX_QUESTIONS]


def _key(question: str) -> str:
    return " ".join(_NOT_WORD.sub("", question.casefold()).split())


def _material(instructions: str, faq: list[FaqItem], transcript: str) -> str:
    listed = "\n".join(f"Q: {item.question}\nA: {item.answer}" for item in faq) or "(none)"
    return (
        f"The agent's instructions:\n{instructions}\n\nThe agent's FAQ:\n{listed}\n\n"
        f"Transcript:\n{transcript}"
    )
