"""The answering detector's decisions, its word cues, and the LLM classifier it asks.

The detector is fed the signals a call gives it (speech starting and ending, transcripts,
beeps) at set times on the virtual clock; the classifier is the real openai plugin talking to a
local OpenAI-compatible server.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable

import pytest

from agent_runtime.answering.cues import Cue, cue_of
from agent_runtime.answering.detector import AnsweringDetector, Classify, Kind, Verdict
from agent_runtime.answering.llm_classifier import TOOL, llm_classifier
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.llm_server import LLMScript, ScriptedAnswer, ScriptedLLMServer
from agent_runtime.tasks import TaskSet

from .test_post_call_llm import saves, text_llm

VAD_LAG = 0.25


class Callee:
    """Drives a detector on the virtual clock: who says what, when (seconds from the answer)."""

    def __init__(self, detector: AnsweringDetector, answered_at: float) -> None:
        self.detector = detector
        self._answered_at = answered_at

    async def at(self, moment: float) -> None:
        await asyncio.sleep(max(0.0, self._answered_at + moment - time.time()))

    async def says(self, start: float, end: float, text: str | None = None) -> None:
        """Speech from ``start`` to ``end``; its words (if any) arrive 0.3 s after it ends."""
        await self.at(start)
        self.detector.speech_started()
        await self.at(end + VAD_LAG)
        self.detector.speech_ended(silence=VAD_LAG)
        if text is not None:
            await self.at(end + 0.3)
            self.detector.transcribed(text)


def decide(
    script: Callable[[Callee], Awaitable[None]],
    *,
    classify: Classify | None = None,
    until: float = 25.0,
) -> list[tuple[Kind, str, float]]:
    """The verdicts of ``script``: kind, reason and seconds after the answer."""

    async def main() -> list[tuple[Kind, str, float]]:
        verdicts: list[Verdict] = []
        tasks = TaskSet()
        detector = AnsweringDetector(
            on_verdict=verdicts.append,
            classify=classify,
            spawn=lambda work: tasks.spawn(work, name="classify"),
        )
        answered = time.time()
        detector.start()
        callee = Callee(detector, answered)
        await script(callee)
        await callee.at(until)
        detector.close()
        await tasks.aclose()
        return [(v.kind, v.reason, round(v.at - answered, 2)) for v in verdicts]

    result: list[tuple[Kind, str, float]] = run_virtual(main)
    return result


def answers(kind: Kind | None) -> Classify:
    async def classify(transcript: str) -> Kind | None:
        await asyncio.sleep(0.4)  # an LLM takes a moment
        return kind

    return classify


def test_a_short_hello_then_silence_is_a_person_half_a_second_after_it() -> None:
    async def hello(callee: Callee) -> None:
        await callee.says(0.8, 1.3, "Hello?")

    assert decide(hello) == [("human", "short_greeting", 1.8)]


def test_nobody_speaking_is_unknown_after_four_seconds() -> None:
    async def nothing(callee: Callee) -> None:
        pass

    assert decide(nothing) == [("unknown", "no_speech", 4.0)]


def test_a_menu_is_decided_as_soon_as_its_words_say_so() -> None:
    async def menu(callee: Callee) -> None:
        await callee.says(0.5, 3.5, "Thank you for calling. For billing, press one.")
        await callee.says(4.0, 8.0, "For deliveries, press two.")

    assert decide(menu) == [("ivr", "words", 3.8)]


def test_a_voicemail_greeting_is_decided_once_it_is_over() -> None:
    async def greeting(callee: Callee) -> None:
        await callee.says(0.5, 3.5, "Hi, I am not available right now.")
        await callee.says(4.0, 6.0, "Please leave a message.")

    assert decide(greeting) == [("voicemail", "words", 7.0)]


def test_a_menu_that_starts_like_a_voicemail_is_a_menu() -> None:
    async def menu(callee: Callee) -> None:
        await callee.says(0.5, 3.5, "Our office is not available right now.")
        await callee.says(3.9, 6.0, "For emergencies, press nine.")

    assert decide(menu) == [("ivr", "words", 6.3)]


def test_a_beep_is_a_voicemail_whatever_was_said() -> None:
    async def beep(callee: Callee) -> None:
        await callee.says(0.5, 1.5, "Jordan.")
        await callee.at(1.9)
        callee.detector.beeped()

    assert decide(beep) == [("voicemail", "beep", 1.9)]


def test_a_beep_after_a_full_mailbox_keeps_it_full() -> None:
    async def full(callee: Callee) -> None:
        await callee.says(0.5, 4.0, "The mailbox is full.")
        callee.detector.beeped()

    assert decide(full) == [("mailbox_full", "words", 4.3)]


def test_a_long_greeting_without_cues_goes_to_the_llm() -> None:
    async def long(callee: Callee) -> None:
        await callee.says(0.5, 4.5, "Northwind Realty, Maria Gomez, good afternoon to you.")

    assert decide(long, classify=answers("human")) == [("human", "llm", 5.9)]
    assert decide(long, classify=answers("voicemail")) == [("voicemail", "llm", 5.9)]


def test_without_an_llm_a_long_greeting_without_cues_is_a_person() -> None:
    async def long(callee: Callee) -> None:
        await callee.says(0.5, 4.5, "Northwind Realty, Maria Gomez, good afternoon to you.")

    assert decide(long) == [("human", "no_cue", 5.5)]


def test_an_llm_that_cannot_tell_leaves_a_waiting_callee_to_be_greeted() -> None:
    async def long(callee: Callee) -> None:
        await callee.says(0.5, 4.5, "Northwind Realty, good afternoon.")

    assert decide(long, classify=answers(None)) == [("human", "unclassified", 5.9)]


def test_a_short_sound_without_words_is_no_greeting() -> None:
    async def click(callee: Callee) -> None:
        await callee.says(1.4, 1.5)  # hold music or a click the VAD took for speech

    assert decide(click) == [("unknown", "no_speech", 4.0)]


def test_a_hello_whose_words_come_late_is_still_a_person() -> None:
    async def hello(callee: Callee) -> None:
        await callee.says(0.8, 1.3)
        await callee.at(2.0)
        callee.detector.transcribed("Hello?")

    assert decide(hello) == [("human", "short_greeting", 2.4)]


def test_a_person_decided_on_rhythm_is_revised_by_machine_words_that_follow() -> None:
    async def voicemail(callee: Callee) -> None:
        await callee.says(0.5, 1.4, "Hi, this is Sam.")
        await callee.says(2.2, 5.0, "Leave a message after the tone.")

    assert decide(voicemail) == [
        ("human", "short_greeting", 1.9),
        ("voicemail", "words", 5.3),
    ]


def test_a_person_is_no_longer_revised_once_the_conversation_is_under_way() -> None:
    async def person(callee: Callee) -> None:
        await callee.says(0.5, 1.4, "Hello?")
        await callee.says(12.0, 14.0, "Can you call my voicemail instead?")

    assert decide(person) == [("human", "short_greeting", 1.9)]


@pytest.mark.parametrize(
    ("text", "cue"),
    [
        ("Hello?", None),
        ("Hi, this is Tom, how can I help you?", None),
        ("Yes, speaking.", None),
        ("You have reached Jordan. Leave your name and number after the beep.", "voicemail"),
        ("I’m away from my desk right now.", "voicemail"),
        ("The mailbox is full and cannot accept new messages. Goodbye.", "mailbox_full"),
        ("The person you are calling has not set up their voicemail.", "mailbox_full"),
        ("For billing press 2, for support press 3.", "ivr"),
        ("Please listen carefully as our options have changed.", "ivr"),
        ("Please state your name and the reason for your call.", "screener"),
        ("I'll see if this person is available.", "screener"),
        ("The person you're calling is using a screening service.", "screener"),
    ],
)
def test_cues_name_the_machine_by_its_words(text: str, cue: Cue | None) -> None:
    assert cue_of(text) == cue


def _classifier_server(*answers: ScriptedAnswer) -> ScriptedLLMServer:
    return ScriptedLLMServer(LLMScript(answers=list(answers)))


@pytest.mark.parametrize(
    ("label", "kind"),
    [
        ("human", "human"),
        ("machine-vm", "voicemail"),
        ("machine-unavailable", "mailbox_full"),
        ("machine-ivr", "ivr"),
        ("uncertain", None),
    ],
)
async def test_the_llm_classifier_asks_with_the_framework_prompt(label: str, kind: Kind) -> None:
    scripted = _classifier_server(saves(TOOL, label=label))
    async with text_llm(scripted) as model:
        got = await llm_classifier(model)("Hi, you reached Sam, leave a message.")
    assert got == kind
    (request,) = scripted.requests
    assert request.body["tool_choice"] == "required"
    assert request.tool_names == [TOOL]
    assert "machine-vm" in request.messages[0]["content"]  # livekit-agents' AMD prompt
    assert request.messages[1]["content"] == "Hi, you reached Sam, leave a message."


async def test_a_failing_llm_classifier_cannot_tell_and_raises_nothing() -> None:
    scripted = _classifier_server(ScriptedAnswer(when={"offers_tool": TOOL}, status=500))
    async with text_llm(scripted) as model:
        assert await llm_classifier(model, timeout=2.0)("Hello, who is this?") is None
