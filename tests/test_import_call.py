"""A call that happened becomes a recorded call: capture, ``import-call``, replay ``--check``."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from .conftest import FIXTURES, run_cli

SECRET = "crm-live-7f3a9c2e"
"""The order_status call's CRM token: a prompt variable its tool's header uses."""


def _heard(report: dict[str, Any]) -> list[tuple[Any, ...]]:
    return [
        (r["role"], r["content"], r["tool_name"], r["tool_arguments"], r["tool_output"])
        for r in report["transcript"]
    ]


def _round_trip(tmp_path: Path, fixture: str | Path, *, capture: bool = True) -> tuple[Path, Path]:
    """Replay ``fixture`` (a bundled call's name, or a folder), import it, replay that."""
    recorded = fixture if isinstance(fixture, Path) else FIXTURES / "calls" / fixture
    first = tmp_path / "first"
    args = ["--capture"] if capture else []
    ran = run_cli("replay", str(recorded), "--fast", "--out", str(first), *args)
    assert ran.returncode == 0, ran.stderr
    folder = tmp_path / "imported"
    extra = [] if capture else ["--call", str(recorded / "call.json")]
    imported = run_cli("import-call", str(first), "--out", str(folder), *extra)
    assert imported.returncode == 0, imported.stderr
    again = run_cli("replay", str(folder), "--fast", "--check", "--out", str(tmp_path / "again"))
    assert again.returncode == 0, again.stderr
    assert "CHECK OK" in again.stderr
    return first, tmp_path / "again"


@pytest.mark.parametrize("fixture", ["order_status", "keys_account_number", "interruption"])
def test_a_captured_call_replays_into_the_same_report(tmp_path: Path, fixture: str) -> None:
    """``interruption``'s last turn is one the end-of-turn model is unsure of: it decides the
    same only on the very samples the call received (the captured audio, not the recording's
    resampled copy)."""
    first, again = _round_trip(tmp_path, fixture)
    caller, _ = soundfile.read(str(FIXTURES / "calls" / fixture / "caller.wav"), dtype="int16")
    imported, _ = soundfile.read(str(tmp_path / "imported" / "caller.wav"), dtype="int16")
    assert np.array_equal(imported[: caller.size], caller)
    before = json.loads((first / "report.json").read_text())
    after = json.loads((again / "report.json").read_text())
    assert _heard(after) == _heard(before)
    for key in ("ended_by", "end_reason", "status", "result"):
        assert after[key] == before[key]


def _transfer(report: dict[str, Any]) -> tuple[Any, ...]:
    events: list[dict[str, Any]] = report["runtime"]["events"]
    (detail,) = [e["detail"] for e in events if e["type"] == "transfer"]
    return (detail["outcome"], detail["decided_by"], detail["ring_seconds"])


@pytest.mark.parametrize(
    ("fixture", "outcome"),
    [("warm_transfer_accepted", "connected"), ("warm_transfer_declined", "declined")],
)
def test_a_captured_warm_transfer_keeps_the_colleague_and_replays_the_same(
    tmp_path: Path, fixture: str, outcome: str
) -> None:
    first, again = _round_trip(tmp_path, fixture)
    colleague = json.loads((first / "capture.json").read_text())["colleague"]
    briefing = colleague["llm"][0]
    assert briefing["after"] is None and briefing["text"].startswith("Hi, this is Alex")
    imported = tmp_path / "imported"
    consult = json.loads((imported / "phone.json").read_text())["consult"]
    recorded = json.loads((FIXTURES / "calls" / fixture / "phone.json").read_text())["consult"]
    assert consult == recorded  # the ring, and the key the colleague pressed at its time
    assert json.loads((imported / "expect.json").read_text())["transfer"] == outcome
    heard = json.loads((imported / "supervisor_stt.json").read_text())["utterances"]
    recorded_stt = FIXTURES / "calls" / fixture / "supervisor_stt.json"
    said = json.loads(recorded_stt.read_text())["utterances"] if recorded_stt.exists() else []
    assert [u["text"] for u in heard] == [u["text"] for u in said][: len(heard)]
    assert soundfile.info(str(imported / "supervisor.wav")).duration > 10
    before = json.loads((first / "report.json").read_text())
    after = json.loads((again / "report.json").read_text())
    assert _transfer(after) == _transfer(before)
    assert _transfer(after)[0] == outcome
    assert _heard(after) == _heard(before)
    for key in ("ended_by", "end_reason", "status", "result"):
        assert after[key] == before[key]
    assert after["runtime"]["duration"] == pytest.approx(before["runtime"]["duration"], abs=0.5)


def test_the_classifier_answers_no_row_shows_are_captured_and_replayed(tmp_path: Path) -> None:
    """A person behind a phone menu whose words do not tell: only the classifier recognises
    them, and its request leaves no transcript row."""
    recorded = tmp_path / "menu_to_person"
    shutil.copytree(FIXTURES / "calls" / "menu_to_person", recorded)
    stt = json.loads((recorded / "stt.json").read_text())
    for utterance in stt["utterances"]:
        if "Dana" in utterance["text"]:
            utterance["text"] = "Deliveries desk, Dana."
    (recorded / "stt.json").write_text(json.dumps(stt))
    script = json.loads((recorded / "llm.json").read_text())
    person = {"name": "save_prediction", "arguments": {"label": "human"}}
    classified = {"when": {"offers_tool": "save_prediction"}, "tool_calls": [person]}
    script["answers"].insert(0, classified)
    (recorded / "llm.json").write_text(json.dumps(script))
    first, again = _round_trip(tmp_path, recorded)
    captured = json.loads((first / "capture.json").read_text())["llm"]
    assert [(a["tool"], a["tool_calls"]) for a in captured] == [("save_prediction", [person])]
    imported = json.loads((tmp_path / "imported" / "llm.json").read_text())["answers"]
    assert [a for a in imported if a["when"].get("offers_tool")] == [
        {
            "when": {"offers_tool": "save_prediction", "user_contains": captured[0]["user"]},
            "ttft": captured[0]["seconds"],
            "tool_calls": [person],
        }
    ]
    before = json.loads((first / "report.json").read_text())
    after = json.loads((again / "report.json").read_text())
    assert _heard(after) == _heard(before)
    for key in ("ended_by", "end_reason", "status", "result"):
        assert after[key] == before[key]
    reached = [e["detail"] for e in after["runtime"]["events"] if e["type"] == "person_reached"]
    assert reached == [{"behind": "menu"}]  # the classifier's answer, served again


def test_a_capture_holds_no_secret(tmp_path: Path) -> None:
    first, _ = _round_trip(tmp_path, "order_status")
    capture = json.loads((first / "capture.json").read_text())
    assert SECRET not in (first / "capture.json").read_text()
    assert capture["call"]["prompt_variables"]["crm_token"] == "REDACTED"
    (exchange,) = capture["http"]
    assert exchange["url"] == "https://api.acme.example/orders/427"
    assert "headers" not in exchange
    for path in (tmp_path / "imported").iterdir():
        if path.suffix == ".json":
            assert SECRET not in path.read_text(), path.name


def test_a_call_without_capture_imports_with_its_config(tmp_path: Path) -> None:
    first, again = _round_trip(tmp_path, "end_call", capture=False)
    assert _heard(json.loads((again / "report.json").read_text())) == _heard(
        json.loads((first / "report.json").read_text())
    )


def test_import_names_what_is_missing(tmp_path: Path) -> None:
    (tmp_path / "call").mkdir()
    run = run_cli("import-call", str(tmp_path / "call"), "--out", str(tmp_path / "out"))
    assert run.returncode == 1 and "Traceback" not in run.stderr
    for missing in ("report.json: missing", "recording.wav: missing", "capture.json: missing"):
        assert missing in run.stderr
