"""``agent-runtime make-call``: a recorded call made from a script replays and passes its check."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

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
