"""The end-of-turn decision: how long to wait in this silence before answering."""

from __future__ import annotations

from dataclasses import dataclass

from .expectation import NOTHING, Expectation
from .rhythm import CallerRhythm
from .words import SHORT_ANSWERS, Verdict, read, tokens


@dataclass(frozen=True)
class Delays:
    """The waits the decision picks from, in seconds of silence after the caller's speech."""

    min_delay: float = 0.2
    """A sure end: answer as soon as this (and the transcript) allow."""
    max_delay: float = 2.5
    """A clearly unfinished turn: the most a caller is left in silence."""
    likely_delay: float = 0.5
    """The audio model is sure but the words tell nothing (no punctuation)."""
    unsure_delay: float = 1.0
    """Neither the words nor the audio model say the caller is done."""
    rhythm_margin: float = 0.2
    """Added to this caller's usual pause when waiting through one."""


@dataclass(frozen=True)
class TurnEnd:
    """How long to wait, and why (a short reason for debugging and tests)."""

    delay: float
    reason: str


def decide(
    transcript: str,
    probability: float | None,
    *,
    threshold: float,
    expectation: Expectation = NOTHING,
    rhythm: CallerRhythm | None = None,
    delays: Delays | None = None,
    greeting: bool = False,
) -> TurnEnd:
    """The silence to wait after ``transcript`` before the turn is over.

    ``probability``: the audio model's end-of-turn probability (None: it gave none);
    ``threshold``: below it, the model thinks the caller is not done; ``greeting``: the agent
    has said nothing yet (the callee of an outbound call greets: a voicemail greeting or a
    screener goes on after its first sentence, so a sentence is left to the audio model).
    """
    d = delays or Delays()
    reading = read(transcript, asked_digits=expectation.digits)
    sure = probability is not None and probability >= threshold
    usual = rhythm.usual_pause() if rhythm is not None else None

    def through_pause(base: float, reason: str) -> TurnEnd:
        wait = base if usual is None else max(base, usual + d.rhythm_margin)
        return TurnEnd(_bounded(wait, d), reason)

    if reading.verdict is Verdict.UNFINISHED:
        return TurnEnd(d.max_delay, reading.reason)
    if reading.verdict is Verdict.COMPLETE:
        if reading.reason == "sentence" and greeting and not sure:
            return through_pause(d.likely_delay, "greeting sentence, model unsure")
        return TurnEnd(_bounded(d.min_delay, d), reading.reason)
    if expectation.yes_no and _all_short(transcript):
        return TurnEnd(_bounded(d.min_delay, d), "answers a yes/no question")
    if reading.reason == "number of unknown length" and transcript.rstrip().endswith("."):
        return TurnEnd(_bounded(d.min_delay if sure else d.likely_delay, d), reading.reason)
    if expectation.number and reading.digits:
        return through_pause(d.unsure_delay, "number of unknown length")
    if sure:
        return through_pause(d.likely_delay, f"{reading.reason}, model sure")
    return through_pause(d.unsure_delay, f"{reading.reason}, model unsure")


def _all_short(transcript: str) -> bool:
    words = tokens(transcript)
    return bool(words) and all(word in SHORT_ANSWERS for word in words)


def _bounded(delay: float, d: Delays) -> float:
    return min(max(delay, d.min_delay), d.max_delay)
