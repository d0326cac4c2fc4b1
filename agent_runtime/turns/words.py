"""What the words of a turn say about whether it is over."""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import Enum


def word_set(*lines: str) -> frozenset[str]:
    """The words of ``lines``, separated by spaces."""
    return frozenset(" ".join(lines).split())


_WORD = re.compile(r"[a-z0-9]+(?:['-][a-z0-9]+)*")

CONNECTIVES = word_set(
    "and or but so because nor than then plus",
    "if when whether since until unless while although though whereas",
)
"""A turn ending on one of these goes on."""
AUXILIARIES = word_set(
    "is are was were be been being am has have had do does did will would",
    "could should can may might must shall",
)
"""Verbs that need more after them, unless a full stop closes the turn ("Yes, I do.")."""
FUNCTION_WORDS = AUXILIARIES | word_set(
    "the a an my your his her their our its every",
    "to of for with at from about by into onto via per than",
    "not i we he she they i'm we're you're it's there's that's what's",
)
"""A turn ending on one of these is an unfinished phrase ("send it to", "my number is")."""
FILLERS = word_set("um uh er erm uhm hmm mm ah eh basically actually like well anyway")
"""Hesitations: the caller is still thinking."""
OPEN_ENDINGS = word_set("in on over after before up out off down around into like as")
"""Without a full stop, a turn ending on one of these goes on ("The card ends in")."""
COPULAS = word_set("is are was were")
PRONOUNS = word_set("it that this there here he she they we you i who what which so")
"""A copula after one of these can close a sentence ("Yes, it is."); after a noun it cannot,
whatever the punctuation ("My phone number is.")."""
SUBORDINATORS = word_set("if when because although though while since unless whether once")
"""A turn opening with one of these needs a main clause ("If the technician can come...")."""
SHORT_TURN = 3
"""Words of a turn short enough to be a whole answer when it has its full stop ("Smith.")."""
SHORT_ANSWERS = word_set(
    "yes yeah yep yup no nope nah sure okay ok right correct exactly fine great perfect",
    "thanks thank bye goodbye hello hi hey absolutely definitely maybe",
    "monday tuesday wednesday thursday friday saturday sunday today tomorrow tonight",
)
"""A turn made of these alone is a complete answer ("Yes.", "Tuesday.")."""

DIGITS = {
    "zero": 1,
    "oh": 1,
    "o": 1,
    "one": 1,
    "two": 1,
    "three": 1,
    "four": 1,
    "five": 1,
    "six": 1,
    "seven": 1,
    "eight": 1,
    "nine": 1,
    "double": 1,
    "triple": 2,
}
"""Spoken digits ("double five": one more digit than words; "triple": two more)."""
NUMBER_LENGTHS = {
    "phone number": 10,
    "cell number": 10,
    "mobile number": 10,
    "telephone number": 10,
    "callback number": 10,
    "zip code": 5,
    "zip": 5,
    "pin": 4,
    "card number": 16,
}
"""Digits a number of this kind needs (North American phone numbers: ten)."""
NUMBER_CUES = word_set("number numbers digits code pin zip")
"""Words that announce a number."""


class Verdict(Enum):
    """What the words say."""

    UNFINISHED = "unfinished"
    """An unfinished phrase, a hesitation, a number being spelled out."""
    COMPLETE = "complete"
    """A question, a short answer or a sentence that reads as finished."""
    UNKNOWN = "unknown"
    """Nothing either way (no words yet, or no punctuation to tell)."""


@dataclass(frozen=True)
class WordsReading:
    """The words of a turn, read."""

    verdict: Verdict
    reason: str
    digits: int
    """Spoken or written digits at the end of the turn (the group being read out)."""
    needs_digits: int | None
    """Digits the number being read needs, when known (the caller's "phone number is" or
    the agent's question)."""


def tokens(text: str) -> list[str]:
    """The lowercase words of ``text`` ("Mm-hm, okay." -> ["mm-hm", "okay"])."""
    return _WORD.findall(text.lower().replace("\u2019", "'"))


def trailing_digits(words: list[str]) -> int:
    """How many digits the turn ends with ("four one five, five five" -> 5; "0100" -> 4)."""
    count = 0
    for word in reversed(words):
        if word.isdigit():
            count += len(word)
        elif word in DIGITS:
            count += DIGITS[word]
        else:
            break
    return count


def number_length(words: list[str]) -> int | None:
    """Digits of the number ``words`` announce or ask for ("phone number" -> 10), if known."""
    pairs = [f"{a} {b}" for a, b in zip(words, words[1:], strict=False)]
    for term in (*pairs, *words):
        if term in NUMBER_LENGTHS:
            return NUMBER_LENGTHS[term]
    return None


def announces_number(words: list[str]) -> bool:
    """True when ``words`` announce or ask for a number."""
    return any(word in NUMBER_CUES for word in words)


def read(text: str, *, asked_digits: int | None = None) -> WordsReading:
    """Read the transcript of a turn so far.

    ``asked_digits``: the digits of the number the agent just asked for, if it did.
    """
    words = tokens(text)
    stripped = text.rstrip()
    digits = trailing_digits(words)
    needs = number_length(words) or asked_digits
    if not words:
        return WordsReading(Verdict.UNKNOWN, "no words", 0, needs)
    last = words[-1]
    terminal = stripped[-1:] in ".?!"

    def verdict(kind: Verdict, reason: str) -> WordsReading:
        return WordsReading(kind, reason, digits, needs)

    if last in FILLERS:
        return verdict(Verdict.UNFINISHED, "hesitation")
    if digits and needs is not None:
        if digits < needs:
            return verdict(Verdict.UNFINISHED, "number still growing")
        return verdict(Verdict.COMPLETE, "number complete")
    if stripped.endswith((",", "-", "...", "\u2026")) or last in CONNECTIVES:
        return verdict(Verdict.UNFINISHED, "connective")
    if stripped.endswith("?"):
        return verdict(Verdict.COMPLETE, "question")
    if last in COPULAS and len(words) > 1 and words[-2] not in PRONOUNS:
        return verdict(Verdict.UNFINISHED, "unfinished phrase")
    open_ending = OPEN_ENDINGS | AUXILIARIES  # "Come in.", "Yes, I do.", "what to do."
    if (last in FUNCTION_WORDS - AUXILIARIES) or (last in open_ending and not terminal):
        return verdict(Verdict.UNFINISHED, "unfinished phrase")
    if words[0] in SUBORDINATORS and not terminal and "," not in text:
        return verdict(Verdict.UNFINISHED, "no main clause yet")
    if digits and announces_number(words):
        # a number of unknown length: a pause may be between two groups
        return verdict(Verdict.UNKNOWN, "number of unknown length")
    if terminal and (len(words) <= SHORT_TURN or all(w in SHORT_ANSWERS for w in words)):
        return verdict(Verdict.COMPLETE, "short answer")
    if terminal:
        return verdict(Verdict.COMPLETE, "sentence")
    return verdict(Verdict.UNKNOWN, "no punctuation")
