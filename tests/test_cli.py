"""The command line as a newcomer runs it."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

from .conftest import FIXTURES, ROOT


def _cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "agent_runtime.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=120,
    )


def test_importing_the_cli_loads_no_livekit_module() -> None:
    # the replay's virtual clock must be installed before livekit is imported
    code = "import sys, agent_runtime.cli; print([m for m in sys.modules if 'livekit' in m])"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_replay_prints_the_report_and_checks_it(tmp_path: Path) -> None:
    run = _cli(
        "replay", str(FIXTURES / "calls/end_call"), "--fast", "--check", "--out", str(tmp_path)
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
    run = _cli("replay", str(folder), "--fast", "--check", "--out", str(tmp_path / "out"))
    assert run.returncode == 1
    assert "MISMATCH ended_by: expected 'agent', got 'user'" in run.stderr
