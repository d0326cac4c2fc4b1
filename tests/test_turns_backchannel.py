"""Backchannels held back while the agent speaks; what the turn context learns from a call."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from livekit.agents import stt
from livekit.agents.language import LanguageCode

from agent_runtime.turns.backchannel import AcknowledgedSound, BackchannelFilter, is_backchannel
from agent_runtime.turns.context import TurnContext


def _final(text: str, *, final: bool = True) -> stt.SpeechEvent:
    kind = stt.SpeechEventType.FINAL_TRANSCRIPT if final else stt.SpeechEventType.INTERIM_TRANSCRIPT
    return stt.SpeechEvent(
        type=kind, alternatives=[stt.SpeechData(language=LanguageCode("en"), text=text)]
    )


async def _events(*texts: str) -> AsyncIterator[stt.SpeechEvent | str]:
    for text in texts:
        yield _final(text)


class Recorder:
    def __init__(self) -> None:
        self.answered: list[str] = []
        self.events: list[str] = []
        self.acknowledging: list[bool] = []

    def acknowledge(self, acknowledging: bool) -> None:
        self.acknowledging.append(acknowledging)

    def answer(self, text: str) -> None:
        self.answered.append(text)

    def event(self, type: str, **_: object) -> None:
        self.events.append(type)


@pytest.mark.parametrize(
    "text",
    [
        "Mm-hm.",
        "uh-huh",
        "Yeah, okay.",
        "Right.",
        "Got it.",
        "That makes sense.",
        "Oh, okay, sounds good.",
        "No problem.",
        "I see, sounds good.",
    ],
)
def test_acknowledgements_are_backchannels(text: str) -> None:
    assert is_backchannel(text)


@pytest.mark.parametrize(
    "text",
    [
        "Wait, that's not what I asked.",
        "No.",
        "Oh no.",
        "Yeah but I need Friday.",
        "",
        "Stop.",
        "I",  # the start of "I see", or of "I need to go"
        "That makes",
        "I see it differently.",
        "Sounds good, but what about Friday?",
        "Okay okay okay.",  # impatience
        "I know, I know.",
        "Thank you.",  # often the caller closing
    ],
)
def test_words_that_say_something_are_not(text: str) -> None:
    assert not is_backchannel(text)


async def test_backchannels_over_the_agent_are_held_back_and_the_rest_goes_through() -> None:
    speaking = True
    calls = Recorder()
    filter = BackchannelFilter(
        lambda: speaking, answer=calls.answer, event=calls.event, acknowledging=calls.acknowledge
    )
    passed = [
        ev.alternatives[0].text
        async for ev in filter.filter(_events("Mm-hm.", "Wait, I have a question."))
        if isinstance(ev, stt.SpeechEvent)
    ]
    assert passed == ["Wait, I have a question."]
    assert calls.events == ["backchannel"]
    assert filter.holds(_final("yeah", final=False))  # its interim words too
    speaking = False
    assert not filter.holds(_final("Yeah."))  # not over the agent: a turn of its own


def test_the_words_over_the_agent_say_whether_the_callers_sound_only_acknowledges() -> None:
    speaking = True
    calls = Recorder()
    filter = BackchannelFilter(
        lambda: speaking, answer=calls.answer, event=calls.event, acknowledging=calls.acknowledge
    )
    filter.holds(_final("", final=False))  # no words yet: undecided
    filter.holds(_final("yeah", final=False))
    filter.holds(_final("yeah but", final=False))  # it goes on: a real interruption
    filter.holds(_final("Okay.", final=True))
    assert calls.acknowledging == [True, False, True]
    filter.holds(_final("that makes", final=False))  # a phrase not said whole yet
    assert filter.holds(_final("That makes sense."))
    assert calls.acknowledging == [True, False, True, False, True]
    speaking = False
    filter.holds(_final("Okay."))  # a turn of its own: nothing to let through
    assert calls.acknowledging == [True, False, True, False, True]


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_a_held_voice_goes_on_once_an_acknowledging_sound_is_over() -> None:
    resumed: list[float] = []
    clock = Clock()
    sound = AcknowledgedSound(lambda: resumed.append(clock.now), clock=clock)
    sound.speaking(True)
    sound.words(True)  # "mm-hm", still being said
    assert resumed == []
    clock.now += 0.5
    sound.speaking(False)
    assert resumed == [100.5]
    clock.now += 5.0
    sound.speaking(True)  # "okay, but wait"
    sound.words(True)
    sound.words(False)
    clock.now += 1.0
    sound.speaking(False)
    assert resumed == [100.5]  # held: its words interrupt
    clock.now += 5.0
    sound.speaking(True)  # a new sound starts undecided
    clock.now += 0.4
    sound.speaking(False)
    assert resumed == [100.5]
    clock.now += 0.3
    sound.words(True)  # its words read after it ended ("yeah")
    assert resumed == [100.5, 112.2]


def test_words_that_may_be_an_earlier_sounds_do_not_let_the_voice_go_on() -> None:
    """ "Yeah." ... "Hi, where is...": a slow STT's "Yeah." is read while "Hi" is said."""
    resumed: list[float] = []
    clock = Clock()
    sound = AcknowledgedSound(lambda: resumed.append(clock.now), clock=clock)
    sound.speaking(True)  # "yeah"
    clock.now += 0.4
    sound.speaking(False)  # (its words not read yet)
    clock.now += 0.5
    sound.speaking(True)  # "hi"
    clock.now += 0.4
    sound.words(True)  # "Yeah.": whose, nothing tells
    clock.now += 0.2
    sound.speaking(False)
    sound.words(True)  # still nothing tells
    assert resumed == []  # the framework's timeout, or the question's words, decide
    clock.now += 2.0
    sound.speaking(True)  # later, an "mm-hm" on its own
    sound.words(True)
    clock.now += 0.4
    sound.speaking(False)
    assert resumed == [pytest.approx(103.9)]


async def test_a_yes_said_over_the_end_of_a_question_answers_it() -> None:
    calls = Recorder()
    filter = BackchannelFilter(
        lambda: True, answer=calls.answer, event=calls.event, acknowledging=calls.acknowledge
    )
    assert filter.holds(_final("Yes."))
    filter.agent_said("I can book you on Tuesday at nine. Does that work?", at=_now())
    assert calls.answered == ["Yes."]
    assert filter.holds(_final("Okay."))
    filter.agent_said("Your booking is confirmed.", at=_now())  # no question: only a "go on"
    assert calls.answered == ["Yes."]


def _now() -> float:
    import time

    return time.time()


def test_the_context_learns_the_callers_pauses_and_the_agents_question() -> None:
    context = TurnContext()
    assert not context.agent_spoke  # the callee of an outbound call greets first
    context.agent_said("Sure. What is your phone number?")
    assert context.agent_spoke
    assert context.expectation.digits == 10
    context.speech_started(10.0)
    context.heard("four one five,", final=True, at=11.5)
    context.speech_ended(11.4)
    assert context.words_current
    context.speech_started(12.3)  # went on after 0.9 s: a pause inside the turn
    assert not context.words_current  # the new words are not transcribed yet
    context.heard("five five five", final=False)
    assert context.transcript == "four one five, five five five"
    context.heard("five five five,", final=True, at=13.6)
    context.speech_ended(13.5)
    context.committed(14.0)  # answered too early...
    context.speech_started(14.4)  # ...the caller went on at once: that was a pause too
    context.speech_ended(15.0)
    context.committed(15.5)
    context.speech_started(22.0)  # a new turn after the agent's answer: no pause
    assert context.rhythm.count == 2
    assert context.rhythm.usual_pause() == pytest.approx(0.9)
    assert context.transcript == ""
