"""Who answered an outbound call, replayed end to end: the recorded calls of each answer.

The callee's side is audio (espeak-ng speech, sox tones, line noise); the beep is found in the
audio, the words come from the recorded transcripts, and what the agent does about the answer
(its greeting, the voicemail message, the keys it presses, hanging up) is what the report and
the replayed phone line show.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.replay.expect import check
from agent_runtime.replay.llm_server import ChatRequest
from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES
from .replays import agent_segments, caller_speech, replayed

pytestmark = pytest.mark.replay

CALLS = [
    "answered_person",
    "voicemail_beep_message",
    "voicemail_after_hello",
    "voicemail_no_message",
    "mailbox_full",
    "menu_to_person",
    "menu_no_navigation",
    "menu_loop",
    "screener_connects",
    "screener_no_connect",
    "silence",
]
MACHINES_HUNG_UP_ON = ["voicemail_no_message", "mailbox_full", "menu_no_navigation"]


def _verdicts(result: ReplayResult) -> list[dict[str, Any]]:
    events = result.call.report.runtime.events
    return [{"at": e.at, **e.detail} for e in events if e.type == "answered_by"]


BEEP_ENDS = {"voicemail_beep_message": 8.1, "voicemail_after_hello": 7.5}
"""Where each recording's beep ends in ``caller.wav`` (``fixtures/generate_answering_calls``)."""


def _beep_end(name: str, result: ReplayResult) -> float:
    """When the recorded beep ended, in report time."""
    return BEEP_ENDS[name] + result.caller_offset


def _tools(request: ChatRequest) -> set[str]:
    return {tool["function"]["name"] for tool in request.body.get("tools", [])}


@pytest.mark.parametrize("name", CALLS)
def test_report_matches_what_the_recording_must_show(name: str) -> None:
    result = replayed(name)
    assert check(result.call.report, result.recorded.expect) == []


@pytest.mark.parametrize("name", [c for c in CALLS if c != "voicemail_after_hello"])
def test_the_agent_never_starts_speaking_while_the_callee_speaks(name: str) -> None:
    """(A voicemail that pauses after "Hi, this is Sam." is greeted as the person it sounds
    like, then revised: ``test_a_person_first_heard_as_hello_then_a_voicemail_is_revised``.)"""
    result = replayed(name)
    speech = caller_speech(result)
    for start, _, _ in agent_segments(result):
        assert [(a, b) for a, b in speech if a < start < b] == []


def test_a_person_saying_hello_is_greeted_once_the_hello_is_over() -> None:
    result = replayed("answered_person")
    (verdict,) = _verdicts(result)
    assert (verdict["kind"], verdict["reason"]) == ("human", "short_greeting")
    hello_end = caller_speech(result)[0][1]
    greeting_start = agent_segments(result)[0][0]
    assert hello_end < greeting_start  # not over the hello
    assert greeting_start == pytest.approx(verdict["at"], abs=0.1)  # at the verdict, not later


def test_the_voicemail_message_starts_at_the_end_of_the_beep_and_is_not_cut() -> None:
    result = replayed("voicemail_beep_message")
    (verdict,) = _verdicts(result)
    assert (verdict["kind"], verdict["reason"]) == ("voicemail", "beep")
    ((start, _, interrupted),) = agent_segments(result)
    beep_end = _beep_end("voicemail_beep_message", result)
    assert beep_end <= start <= beep_end + 0.5
    assert not interrupted
    assert result.llm_requests == []  # a voicemail greeting costs no LLM request


@pytest.mark.parametrize("name", MACHINES_HUNG_UP_ON)
def test_a_machine_that_needs_no_word_is_hung_up_on_without_one(name: str) -> None:
    result = replayed(name)
    (verdict,) = _verdicts(result)
    assert agent_segments(result) == []
    assert result.llm_requests == []
    assert result.line.sent_keys == []
    hung_up = [e.at for e in result.call.report.runtime.events if e.type == "hung_up"]
    assert hung_up and hung_up[0] - verdict["at"] < 0.1


def test_a_person_first_heard_as_hello_then_a_voicemail_is_revised() -> None:
    result = replayed("voicemail_after_hello")
    first, revised = _verdicts(result)
    assert (first["kind"], revised["kind"], revised["revised"]) == ("human", "voicemail", True)
    greeting, message = agent_segments(result)
    assert greeting[2] and greeting[1] <= revised["at"] + 0.1  # the greeting was cut
    assert message[0] >= _beep_end("voicemail_after_hello", result)


def test_the_menu_is_navigated_with_keys_until_a_person_answers() -> None:
    result = replayed("menu_to_person")
    assert [keys for _, keys in result.line.sent_keys] == ["1"]
    events = [e.type for e in result.call.report.runtime.events]
    assert "person_reached" in events
    conversation = [r for r in result.llm_requests if "save_prediction" not in _tools(r)]
    assert conversation and all({"send_dtmf", "skip_turn"} <= _tools(r) for r in conversation)
    assert result.call.report.result == "human"


def test_a_menu_heard_three_times_ends_the_call() -> None:
    result = replayed("menu_loop")
    repeats = [
        e.detail["times"] for e in result.call.report.runtime.events if e.type == "menu_repeated"
    ]
    assert repeats == [2, 3]
    assert [keys for _, keys in result.line.sent_keys] == ["1", "1"]


def test_the_agent_tells_a_screener_who_it_is_after_the_screener_spoke() -> None:
    result = replayed("screener_connects")
    screener_end = caller_speech(result)[0][1]
    introduction = agent_segments(result)[0]
    assert introduction[0] > screener_end and not introduction[2]
    first_request = result.llm_requests[0]
    assert "call screener" in json.dumps(first_request.messages)  # told what it is talking to
    assert "screening service" in json.dumps(first_request.messages)  # and what it heard


def test_silence_gets_a_greeting_and_an_unknown_result() -> None:
    result = replayed("silence")
    (verdict,) = _verdicts(result)
    assert (verdict["kind"], verdict["reason"]) == ("unknown", "no_speech")
    assert agent_segments(result)[0][0] == pytest.approx(verdict["at"], abs=0.1)


def test_an_inbound_call_is_not_classified(tmp_path: Path) -> None:
    folder = tmp_path / "inbound_silence"
    shutil.copytree(FIXTURES / "calls" / "silence", folder)
    document = json.loads((folder / "call.json").read_text())
    call = document["call"]
    call["direction"] = "inbound"
    call["from_phone_number"], call["to_phone_number"] = (
        call["to_phone_number"],
        call["from_phone_number"],
    )
    (folder / "call.json").write_text(json.dumps(document))
    result = run_replay(folder, fast=True)
    report = result.call.report
    assert _verdicts(result) == []
    assert agent_segments(result)[0][0] < 1.0  # greeted at once, as inbound calls are
    assert report.result == "unknown"  # nobody spoke


def test_voicemail_sms_is_written_from_its_prompt_and_sent_once(tmp_path: Path) -> None:
    folder = tmp_path / "voicemail_sms"
    shutil.copytree(FIXTURES / "calls" / "voicemail_beep_message", folder)
    shutil.copy(FIXTURES / "calls" / "sms_link" / "env.json", folder / "env.json")
    document = json.loads((folder / "call.json").read_text())
    document["call"]["assistant"]["voicemail_sms_prompt"] = (
        "Tell {{first_name}} we left a voicemail about the delivery."
    )
    document["call"]["prompt_variables"]["first_name"] = "Jordan"
    (folder / "call.json").write_text(json.dumps(document))
    twilio = json.loads((FIXTURES / "calls" / "sms_link" / "http.json").read_text())
    (folder / "http.json").write_text(json.dumps(twilio))
    text = "Hi Jordan, Acme left you a voicemail about your delivery tomorrow."
    answer = {
        "when": {"offers_tool": "write_sms"},
        "tool_calls": [{"name": "write_sms", "arguments": {"message": text}}],
    }
    (folder / "llm.json").write_text(json.dumps({"answers": [answer]}))
    result = run_replay(folder, fast=True)
    after = result.call.report.runtime.after_call
    assert after is not None
    assert ("voicemail_sms", "queued") in [(s.name, s.status) for s in after.steps]
    (request,) = result.after_call_requests
    assert "Tell Jordan we left a voicemail" in json.dumps(request.messages)
    (sms,) = [r for r in result.http_requests if r.path_qs.endswith("/Messages.json")]
    assert b"To=%2B14155550123" in sms.body and b"left+you+a+voicemail" in sms.body


def test_keys_that_are_no_phone_keys_are_refused_and_nothing_is_pressed(tmp_path: Path) -> None:
    folder = tmp_path / "menu_bad_keys"
    shutil.copytree(FIXTURES / "calls" / "menu_to_person", folder)
    script = json.loads((folder / "llm.json").read_text())
    script["answers"][0]["tool_calls"] = [{"name": "send_dtmf", "arguments": {"keys": "one"}}]
    (folder / "llm.json").write_text(json.dumps(script))
    result = run_replay(folder, fast=True)
    rows = [r for r in result.call.report.transcript or [] if r.tool_name == "send_dtmf"]
    assert rows and all(r.tool_is_error for r in rows)
    assert "'O' is not a phone key" in (rows[0].tool_output or "")
    assert result.line.sent_keys == []


def test_a_person_behind_a_menu_whose_words_do_not_tell_is_recognised_by_the_classifier(
    tmp_path: Path,
) -> None:
    folder = tmp_path / "menu_to_person"
    shutil.copytree(FIXTURES / "calls" / "menu_to_person", folder)
    stt = json.loads((folder / "stt.json").read_text())
    for utterance in stt["utterances"]:
        if "Dana" in utterance["text"]:
            utterance["text"] = "Deliveries desk, Dana."
    (folder / "stt.json").write_text(json.dumps(stt))
    script = json.loads((folder / "llm.json").read_text())
    script["answers"].insert(
        0,
        {
            "when": {"offers_tool": "save_prediction", "user_contains": "Dana"},
            "tool_calls": [{"name": "save_prediction", "arguments": {"label": "human"}}],
        },
    )
    (folder / "llm.json").write_text(json.dumps(script))
    result = run_replay(folder, fast=True)
    events = result.call.report.runtime.events
    assert [e.detail for e in events if e.type == "person_reached"] == [{"behind": "menu"}]
    assert result.call.report.result == "human"
