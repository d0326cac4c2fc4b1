"""The end-of-turn decision on recorded caller turns (no timing: the delays it picks)."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_runtime.turns.decision import Delays, decide
from agent_runtime.turns.expectation import expect
from agent_runtime.turns.rhythm import CallerRhythm
from agent_runtime.turns.words import Verdict, read, tokens, trailing_digits

from .conftest import ROOT

DELAYS = Delays(min_delay=0.3, max_delay=2.5, likely_delay=0.5, unsure_delay=1.0)
THRESHOLD = 0.36
"""v1-mini's English threshold."""
SURE, UNSURE = 0.9, 0.05
"""Probabilities of the audio model, either side of it."""
PAUSES = sorted((ROOT / "bench" / "calls").glob("pauses_*"))


def recorded_turns() -> list[tuple[str, list[str], list[float]]]:
    """(call, the text of each segment, the pauses between them) of the recorded pause calls."""
    turns = []
    for call in PAUSES:
        utterances = json.loads((call / "stt.json").read_text())["utterances"]
        for indices in json.loads((call / "turns.json").read_text())["turns"]:
            parts = [utterances[i] for i in indices]
            pauses = [b["start"] - a["end"] for a, b in zip(parts, parts[1:], strict=False)]
            turns.append((call.name, [p["text"] for p in parts], pauses))
    return turns


def wait(text: str, probability: float | None, question: str | None = None) -> float:
    return decide(
        text, probability, threshold=THRESHOLD, expectation=expect(question), delays=DELAYS
    ).delay


# -- words ---------------------------------------------------------------------------------------


def test_trailing_digits_count_spoken_and_written_digits() -> None:
    assert trailing_digits(tokens("my number is four one five, five five five")) == 6
    assert trailing_digits(tokens("it is 0100")) == 4
    assert trailing_digits(tokens("double five, triple two")) == 5
    assert trailing_digits(tokens("four one five and")) == 0


@pytest.mark.parametrize(
    ("text", "verdict"),
    [
        ("My new phone does not", Verdict.UNFINISHED),
        ("I ordered a blue jacket and", Verdict.UNFINISHED),
        ("So I was wondering, um", Verdict.UNFINISHED),
        ("My phone number is four one five,", Verdict.UNFINISHED),
        ("What time do you close today?", Verdict.COMPLETE),
        ("Yes.", Verdict.COMPLETE),
        ("Tuesday.", Verdict.COMPLETE),
        ("Yes, I do.", Verdict.COMPLETE),
        ("The charge was forty dollars instead of twenty five.", Verdict.COMPLETE),
        ("The form on your website", Verdict.UNKNOWN),
        ("My phone number is.", Verdict.UNFINISHED),  # an STT's full stop at a pause
        ("The problem was.", Verdict.UNFINISHED),
        ("Yes, it is.", Verdict.COMPLETE),
        ("That's what it is.", Verdict.COMPLETE),
    ],
)
def test_words_tell_an_unfinished_phrase_from_a_complete_one(text: str, verdict: Verdict) -> None:
    assert read(text).verdict is verdict


# -- the decision on recorded turns --------------------------------------------------------------


def test_a_digit_group_with_a_pause_is_not_cut() -> None:
    question = "Sure. What is your phone number?"
    # the audio model is sure at each pause (it was on 8 of 10 pauses of the turns)
    assert wait("four one five,", SURE, question) == DELAYS.max_delay
    assert wait("four one five, five five five.", SURE, question) == DELAYS.max_delay
    assert wait("four one five, five five five, zero one zero zero.", SURE, question) == 0.3
    # the caller announces the number themselves
    assert wait("My phone number is four one five.", SURE) == DELAYS.max_delay
    assert wait("My phone number is 415 555 0100.", UNSURE) == DELAYS.min_delay


def test_a_complete_question_is_answered_at_the_minimum_delay() -> None:
    assert wait("What time do you close today?", UNSURE) == DELAYS.min_delay
    assert wait("What time do you close today?", SURE) == DELAYS.min_delay


def test_a_sentence_with_its_full_stop_is_answered_at_the_minimum_delay() -> None:
    """The STT's full stop after words that read as finished: the model is not waited for.

    v1-mini was unsure at half the espeak sentence ends of the tune set; waiting it out cost
    up to 1.4 s a turn, and no recorded mid-sentence pause ends in a complete sentence.
    """
    said = "I'd like to move my appointment and maybe add a cleaning too."
    assert wait(said, UNSURE) == DELAYS.min_delay
    assert wait(said, None) == DELAYS.min_delay
    rhythm = CallerRhythm()
    rhythm.paused(1.3)  # a caller who pauses long inside sentences
    slow = decide(said, UNSURE, threshold=THRESHOLD, rhythm=rhythm, delays=DELAYS)
    assert slow.delay == DELAYS.min_delay
    # without its full stop, the same words are left to the model and the caller's rhythm
    assert wait(said.rstrip("."), UNSURE) == DELAYS.unsure_delay


def test_a_greeting_sentence_before_the_agent_spoke_is_left_to_the_audio_model() -> None:
    """A voicemail greeting goes on after "Hi, this is Sam." (calls/voicemail_after_hello)."""
    hello = "Hi, this is Sam."
    unsure = decide(hello, UNSURE, threshold=THRESHOLD, delays=DELAYS, greeting=True)
    sure = decide(hello, SURE, threshold=THRESHOLD, delays=DELAYS, greeting=True)
    assert unsure.delay == DELAYS.likely_delay
    assert sure.delay == DELAYS.min_delay
    # a question or a short answer is sure even then ("Hello?")
    assert decide("Hello?", UNSURE, threshold=THRESHOLD, delays=DELAYS, greeting=True).delay == (
        DELAYS.min_delay
    )


def test_a_short_answer_to_a_yes_no_question_is_complete() -> None:
    question = "Would you like the nine o'clock class?"
    assert wait("yes", UNSURE, question) == DELAYS.min_delay
    assert wait("Tuesday.", UNSURE) == DELAYS.min_delay
    assert wait("no", UNSURE) > DELAYS.min_delay  # without the question or punctuation: unsure


def test_every_recorded_mid_sentence_pause_waits_longer_than_the_audio_model_alone() -> None:
    """At each recorded pause the words hold the answer back, or leave the model's doubt."""
    for call, segments, pauses in recorded_turns():
        said = ""
        for segment, pause in zip(segments, pauses, strict=False):
            said = f"{said} {segment}".strip()
            held = wait(said, SURE)
            assert held >= DELAYS.likely_delay, (call, said)
            if read(said).verdict is Verdict.UNFINISHED:
                assert held > pause, (call, said, pause)


def test_recorded_complete_turns_are_answered_without_the_longest_wait() -> None:
    for call, segments, _ in recorded_turns():
        whole = " ".join(segments)
        assert wait(whole, SURE) <= DELAYS.unsure_delay, (call, whole)
        if whole.endswith("?"):
            assert wait(whole, UNSURE) == DELAYS.min_delay, (call, whole)


def test_the_callers_own_rhythm_stretches_an_unsure_wait() -> None:
    rhythm = CallerRhythm()
    for pause in (0.9, 1.3, 1.1):
        rhythm.paused(pause)
    rhythm.paused(12.0)  # a silence between turns, not a pause: ignored
    assert rhythm.usual_pause() == 1.3
    calm = decide("The form on your website", SURE, threshold=THRESHOLD, delays=DELAYS)
    slow = decide(
        "The form on your website", SURE, threshold=THRESHOLD, rhythm=rhythm, delays=DELAYS
    )
    assert calm.delay == DELAYS.likely_delay
    assert slow.delay == pytest.approx(1.5)
    # a sure end stays sure whatever the rhythm
    question = decide("Is it open?", UNSURE, threshold=THRESHOLD, rhythm=rhythm, delays=DELAYS)
    assert question.delay == DELAYS.min_delay


def test_the_waits_stay_within_the_endpointing_bounds() -> None:
    tight = Delays(min_delay=0.4, max_delay=0.8, likely_delay=0.5, unsure_delay=0.8)
    for text in ("and", "Yes.", "The form", ""):
        for probability in (None, UNSURE, SURE):
            delay = decide(text, probability, threshold=THRESHOLD, delays=tight).delay
            assert tight.min_delay <= delay <= tight.max_delay


def test_what_the_agent_asked() -> None:
    assert expect("Thanks! And what is your zip code?").digits == 5
    assert expect("Could I have the best number to reach you?").number
    assert expect("Is Tuesday at nine okay for you?").yes_no
    assert not expect("How can I help you today?").yes_no
    assert expect("Your order ships today.") == expect(None)


def test_the_recorded_pause_calls_are_there() -> None:
    assert len(PAUSES) == 6
    assert all(isinstance(p, Path) for p in PAUSES)
