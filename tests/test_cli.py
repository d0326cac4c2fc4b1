"""The command line as a newcomer runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES, run_cli


def test_importing_the_cli_loads_no_livekit_module() -> None:
    # the replay's virtual clock must be installed before livekit is imported
    code = "import sys, agent_runtime.cli; print([m for m in sys.modules if 'livekit' in m])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_replay_prints_the_report_and_checks_it(tmp_path: Path) -> None:
    run = run_cli(
        "replay",
        str(FIXTURES / "calls/end_call"),
        "--fast",
        "--check",
        "--json",
        "--out",
        str(tmp_path),
    )
    assert run.returncode == 0, run.stderr
    report = json.loads(run.stdout)
    assert (report["ended_by"], report["end_reason"]) == ("agent", "tool_end_call")
    assert "CHECK OK" in run.stderr
    assert (tmp_path / "report.json").is_file() and (tmp_path / "recording.wav").is_file()


def test_replay_check_fails_on_a_mismatch(tmp_path: Path) -> None:
    folder = tmp_path / "call"
    subprocess.run(
        ["cp", "-r", str(FIXTURES / "calls/hangup_mid_sentence"), str(folder)], check=True
    )
    expect = json.loads((folder / "expect.json").read_text())
    expect["ended_by"] = "agent"
    (folder / "expect.json").write_text(json.dumps(expect))
    run = run_cli("replay", str(folder), "--fast", "--check", "--out", str(tmp_path / "out"))
    assert run.returncode == 1
    assert "MISMATCH ended_by: expected 'agent', got 'user'" in run.stderr


def test_replay_shows_the_call_as_it_happens_then_a_summary(tmp_path: Path) -> None:
    run = run_cli("replay", str(FIXTURES / "calls/end_call"), "--fast", "--out", str(tmp_path))
    assert run.returncode == 0, run.stderr
    report = json.loads((tmp_path / "report.json").read_text())
    rows, times = report["transcript"], report["runtime"]["transcript_at"]
    assert len(times) == len(rows) and times == sorted(times)
    lines = run.stdout.splitlines()
    shown = [line for line in lines if line.strip().split("s  ", 1)[0].replace(".", "").isdigit()]
    assert len(shown) == len(rows)
    for line, row, at in zip(shown, rows, times, strict=True):
        assert line.startswith(f"{at:7.1f}s")
        assert row["content"] in line or row["role"] == "tool"
    assert "ended      tool_end_call (by agent), status completed" in run.stdout
    assert f"report     {tmp_path / 'report.json'}" in run.stdout
    assert "{" not in run.stdout.split("\n\n")[-1]  # a summary, not the JSON report


def test_version_and_options_after_the_command() -> None:
    version = run_cli("--version")
    assert version.returncode == 0 and version.stdout.startswith("agent-runtime 0.")
    assert "livekit-agents 1.8" in version.stdout
    after = run_cli("check-config", str(FIXTURES / "calls/end_call/call.json"), "-v")
    assert after.returncode == 0, after.stderr


def _folder(tmp_path: Path, fixture: str = "end_call") -> Path:
    folder = tmp_path / "call"
    subprocess.run(["cp", "-r", str(FIXTURES / "calls" / fixture), str(folder)], check=True)
    return folder


def _one_line_error(run: subprocess.CompletedProcess[str]) -> str:
    assert run.returncode == 1
    assert "Traceback" not in run.stderr
    return run.stderr


def test_replay_names_what_is_missing_in_its_folder(tmp_path: Path) -> None:
    err = _one_line_error(run_cli("replay", str(tmp_path / "nowhere"), "--fast"))
    assert "nowhere: no such folder" in err
    folder = _folder(tmp_path)
    for name in ("stt.json", "llm.json", "caller.json", "expect.json"):
        (folder / name).unlink()
    err = _one_line_error(run_cli("replay", str(folder), "--fast"))
    assert "stt.json: missing" in err and "llm.json: missing" in err
    assert "caller.json" not in err  # optional


def test_replay_names_the_file_and_path_of_a_malformed_part(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    (folder / "expect.json").write_text('{"endreason": "user_hangup", "transcript": [{"rol": 1}]}')
    (folder / "stt.json").write_text('{"utterances": [}')
    (folder / "caller.wav").write_bytes(b"RIFF not audio")
    err = _one_line_error(run_cli("replay", str(folder), "--fast"))
    assert "expect.json $.endreason" in err
    assert "expect.json $.transcript[0].rol" in err
    assert "stt.json: is not JSON" in err and "line 1" in err
    assert "caller.wav: is not readable audio" in err


def test_an_unmatched_llm_request_is_named_and_fails_the_check(tmp_path: Path) -> None:
    folder = _folder(tmp_path)
    script = json.loads((folder / "llm.json").read_text())
    script["answers"] = [
        a for a in script["answers"] if a["when"].get("user_contains") != "Goodbye"
    ]
    (folder / "llm.json").write_text(json.dumps(script))
    run = run_cli("replay", str(folder), "--fast", "--check", "--out", str(tmp_path / "out"))
    assert run.returncode == 1
    assert "MISSING llm.json has no answer for LLM request" in run.stderr
    assert "after the caller said" in run.stderr and "Goodbye" in run.stderr
    assert "tools offered: end_call" in run.stderr
    assert "Traceback" not in run.stderr
