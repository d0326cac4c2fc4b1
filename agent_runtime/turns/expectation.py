"""What the agent's last words ask of the caller."""

from __future__ import annotations

import re
from dataclasses import dataclass

from .words import announces_number, number_length, tokens, word_set

_AUXILIARIES = word_set(
    "is are was were do does did can could would will should have has had may shall",
    "isn't aren't don't doesn't didn't can't won't",
)
_SENTENCE = re.compile(r"[^.?!]+[.?!]*")


@dataclass(frozen=True)
class Expectation:
    """The answer the agent's question calls for."""

    digits: int | None = None
    """Digits of the number asked for, when the agent asked for one of a known length."""
    number: bool = False
    """The agent asked for a number (of any length)."""
    yes_no: bool = False
    """The agent asked a yes/no question: "yes" is a whole answer."""


NOTHING = Expectation()


def last_question(text: str) -> str | None:
    """The agent's last sentence, if it is a question."""
    sentences = [str(s).strip() for s in _SENTENCE.findall(text) if str(s).strip()]
    if not sentences or not sentences[-1].endswith("?"):
        return None
    return sentences[-1]


def expect(agent_text: str | None) -> Expectation:
    """What the caller is expected to answer to ``agent_text`` (the agent's last message)."""
    question = last_question(agent_text or "")
    if question is None:
        return NOTHING
    words = tokens(question)
    if announces_number(words):
        return Expectation(digits=number_length(words), number=True)
    return Expectation(yes_no=bool(words) and words[0] in _AUXILIARIES)
