"""``agent-runtime make-call``: a recorded call made from a script replays and passes its check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from agent_runtime.offline_tts import SAMPLE_RATE, espeak_voice

from .conftest import FIXTURES, run_cli

pytestmark = pytest.mark.skipif(shutil.which("espeak-ng") is None, reason="needs espeak-ng")


def test_a_call_made_from_a_script_replays_and_passes_its_check(tmp_path: Path) -> None:
    shutil.copy(FIXTURES / "calls/end_call/call.json", tmp_path / "call.json")
    # a caller line recorded elsewhere: 16 kHz, with a second of silence before the words
    words = espeak_voice("Great, thank you. Goodbye.", voice="en-us+m3")
    rate = 16000
    spoken = np.interp(
        np.arange(int(words.size * rate / SAMPLE_RATE)) * SAMPLE_RATE / rate,
        np.arange(words.size),
        words,
    ).astype(np.int16)
    padded = np.concatenate([np.zeros(rate, dtype=np.int16), spoken])
    soundfile.write(str(tmp_path / "bye.wav"), padded, rate)
    script = {
        "call": "call.json",
        "lines": [
            {"caller": "Hi. Where is your main store?"},
            {"agent": "Our main store is at twelve Market Street, next to the central station."},
            {"caller": "Great, thank you. Goodbye.", "wav": "bye.wav", "pause": 1.5},
            {"tool": "end_call"},
        ],
    }
    (tmp_path / "script.json").write_text(json.dumps(script))
    folder = tmp_path / "made"
    made = run_cli("make-call", str(tmp_path / "script.json"), "--out", str(folder))
    assert made.returncode == 0, made.stderr
    stt = json.loads((folder / "stt.json").read_text())["utterances"]
    assert [u["text"] for u in stt] == [
        "Hi. Where is your main store?",
        "Great, thank you. Goodbye.",
    ]
    # the WAV line is timed from its speech, not from its file
    assert stt[1]["end"] - stt[1]["start"] < padded.size / rate - 0.9
    audio, line_rate = soundfile.read(str(folder / "caller.wav"))
    assert line_rate == 8000 and soundfile.info(str(folder / "caller.wav")).subtype == "ULAW"
    replayed = run_cli("replay", str(folder), "--fast", "--check", "--out", str(tmp_path / "out"))
    assert replayed.returncode == 0, replayed.stderr
    assert "CHECK OK" in replayed.stderr
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert [r["role"] for r in report["transcript"]] == [
        "assistant",
        "user",
        "assistant",
        "user",
        "tool",
        "assistant",
    ]


def test_a_bad_script_is_a_one_line_error_with_its_path(tmp_path: Path) -> None:
    script = {"call": "missing.json", "lines": [{"caller": "Hi", "agent": "Hello"}]}
    (tmp_path / "script.json").write_text(json.dumps(script))
    made = run_cli("make-call", str(tmp_path / "script.json"), "--out", str(tmp_path / "made"))
    assert made.returncode == 1
    assert "$.lines[0]: " in made.stderr and "exactly one of caller, agent or tool" in made.stderr
    assert "Traceback" not in made.stderr
    script["lines"] = [{"caller": "Hi"}]
    (tmp_path / "script.json").write_text(json.dumps(script))
    made = run_cli("make-call", str(tmp_path / "script.json"), "--out", str(tmp_path / "made"))
    assert made.returncode == 1 and "$.call: " in made.stderr and "missing.json" in made.stderr


ASK = "Hi. I was charged twice. Can I talk to a real person, please?"
BRIEFING = (
    "Hi, this is Alex from Acme support. A caller was charged twice and wants a person. "
    "Will you take the call? Press 1 to take it, or 2 to decline."
)
SORRY = "I am sorry, nobody can take your call right now. Shall someone call you back?"


def _warm_script(folder: Path, lines: list[dict[str, Any]], colleague: dict[str, Any]) -> Path:
    shutil.copy(FIXTURES / "calls/warm_transfer_accepted/call.json", folder / "call.json")
    opening = [
        {"caller": ASK},
        {"agent": "Of course, let me connect you with a colleague."},
        {"tool": "transfer_to_human"},
        {"caller": "Okay, I will wait.", "pause": 2.0},
    ]
    script = {"call": "call.json", "lines": [*opening, *lines], "colleague": colleague}
    (folder / "script.json").write_text(json.dumps(script))
    return folder / "script.json"


def _made_and_replayed(folder: Path, script: Path) -> dict[str, Any]:
    made = run_cli("make-call", str(script), "--out", str(folder / "made"))
    assert made.returncode == 0, made.stderr
    replayed = run_cli(
        "replay", str(folder / "made"), "--fast", "--check", "--out", str(folder / "out")
    )
    assert replayed.returncode == 0, replayed.stderr
    assert "CHECK OK" in replayed.stderr
    report: dict[str, Any] = json.loads((folder / "out/report.json").read_text())
    return report


def _transfer(report: dict[str, Any]) -> dict[str, Any]:
    events: list[dict[str, Any]] = report["runtime"]["events"]
    (event,) = [e["detail"] for e in events if e["type"] == "transfer"]
    return dict(event)


def test_a_warm_transfer_the_colleague_accepts_is_made_from_a_script(tmp_path: Path) -> None:
    colleague = {
        "ring": 3.0,
        "lines": [
            {"agent": BRIEFING},
            {"colleague": "Yes, put them through."},
            {"tool": "accept_transfer"},
            {"colleague": "Hello, this is Sam from billing. How can I help?", "pause": 2.0},
        ],
    }
    report = _made_and_replayed(tmp_path, _warm_script(tmp_path, [], colleague))
    made = tmp_path / "made"
    expect = json.loads((made / "expect.json").read_text())
    assert (expect["transfer"], expect["end_reason"]) == ("connected", "transfer")
    assert json.loads((made / "phone.json").read_text()) == {
        "consult": {"ring": 3.0, "answered": True}
    }
    heard = json.loads((made / "supervisor_stt.json").read_text())["utterances"]
    assert [u["text"] for u in heard] == [
        "Yes, put them through.",
        "Hello, this is Sam from billing. How can I help?",
    ]
    assert soundfile.info(str(made / "supervisor.wav")).samplerate == 8000
    transfer = _transfer(report)
    assert (transfer["outcome"], transfer["decided_by"], transfer["ring_seconds"]) == (
        "connected",
        "voice",
        3.0,
    )
    consultation = [
        (e["detail"]["role"], e["detail"]["text"])
        for e in report["runtime"]["events"]
        if e["type"] == "consultation"
    ]
    assert consultation == [("agent", BRIEFING), ("supervisor", "Yes, put them through.")]


def test_a_warm_transfer_the_colleague_declines_with_a_key_is_made_from_a_script(
    tmp_path: Path,
) -> None:
    lines = [
        {"agent": SORRY},
        {"caller": "Yes, please have someone call me back."},
        {"agent": "Of course. Someone will call you back today. Goodbye."},
    ]
    colleague = {"lines": [{"agent": BRIEFING}, {"keys": "2", "pause": 2.0}]}
    report = _made_and_replayed(tmp_path, _warm_script(tmp_path, lines, colleague))
    consult = json.loads((tmp_path / "made/phone.json").read_text())["consult"]
    assert [k["keys"] for k in consult["keys"]] == ["2"]
    transfer = _transfer(report)
    assert (transfer["outcome"], transfer["decided_by"]) == ("declined", "key")
    answers = json.loads((tmp_path / "made/llm.json").read_text())["answers"]
    assert answers[2] == {"when": {"user_contains": "Okay, I will wait."}, "text": SORRY}
    assert [r["role"] for r in report["transcript"]][-3:] == ["assistant", "user", "assistant"]


def test_a_busy_colleague_needs_no_leg_and_a_bad_leg_names_its_path(tmp_path: Path) -> None:
    lines = [{"agent": SORRY}]
    busy = {"ring": 2.0, "answered": False, "sip_status": 486, "sip_reason": "Busy Here"}
    script = _warm_script(tmp_path, lines, busy)
    made = run_cli("make-call", str(script), "--out", str(tmp_path / "m"))
    assert made.returncode == 1  # the caller's "I will wait" comes after the busy signal
    assert f"{script} cannot be made" in made.stderr
    assert "$.lines[3]: said on hold after the colleague decides" in made.stderr
    busy["ring"] = 12.0
    made = run_cli(
        "make-call", str(_warm_script(tmp_path, lines, busy)), "--out", str(tmp_path / "m")
    )
    assert made.returncode == 0, made.stderr
    assert json.loads((tmp_path / "m/expect.json").read_text())["transfer"] == "busy"
    assert not (tmp_path / "m/supervisor.wav").exists()
    undecided = {"lines": [{"agent": BRIEFING}, {"colleague": "Hmm, let me think."}]}
    made = run_cli("make-call", str(_warm_script(tmp_path, lines, undecided)), "--out", "x")
    assert made.returncode == 1 and "Traceback" not in made.stderr
    assert "$.colleague.lines: the colleague never decides" in made.stderr
    no_briefing = {"lines": [{"keys": "1"}]}
    made = run_cli("make-call", str(_warm_script(tmp_path, [], no_briefing)), "--out", "x")
    assert "$.colleague.lines[0]: the leg starts with the agent's briefing" in made.stderr
    spoke_after = {"lines": [{"agent": BRIEFING}, {"keys": "1"}, {"agent": "Thanks!"}]}
    made = run_cli("make-call", str(_warm_script(tmp_path, [], spoke_after)), "--out", "x")
    assert "$.colleague.lines[2]: after the colleague's decision" in made.stderr
    without = json.loads(_warm_script(tmp_path, lines, busy).read_text())
    del without["colleague"]
    (tmp_path / "script.json").write_text(json.dumps(without))
    made = run_cli("make-call", str(tmp_path / "script.json"), "--out", "x")
    assert "$.colleague: a warm transfer needs `colleague`" in made.stderr


def test_a_voicemail_colleague_and_a_caller_silent_on_hold_are_made_from_a_script(
    tmp_path: Path,
) -> None:
    """Coming back with nothing said on hold answers the words that asked for the transfer."""
    shutil.copy(FIXTURES / "calls/warm_transfer_accepted/call.json", tmp_path / "call.json")
    script = {
        "call": "call.json",
        "lines": [
            {"caller": ASK},
            {"agent": "Of course, let me connect you with a colleague."},
            {"tool": "transfer_to_human"},
            {"agent": SORRY},
            {"caller": "Yes, please."},
            {"agent": "Of course. Someone will call you back today. Goodbye."},
        ],
        "colleague": {
            "ring": 8.0,
            "lines": [
                {"agent": BRIEFING},
                {"colleague": "Hi, this is Sam. Please leave a message after the tone."},
                {"tool": "voicemail_detected"},
            ],
        },
    }
    (tmp_path / "script.json").write_text(json.dumps(script))
    report = _made_and_replayed(tmp_path, tmp_path / "script.json")
    assert _transfer(report)["outcome"] == "voicemail"
    answers = json.loads((tmp_path / "made/llm.json").read_text())["answers"]
    assert {"when": {"user_contains": ASK}, "text": SORRY} in answers
    assert [r.get("content") for r in report["transcript"]].count(SORRY) == 1
