"""Shared test helpers."""

from __future__ import annotations

from agent_runtime.replay.clock import install_clock_hook

# Before livekit is imported, so that its timestamps follow a replay's virtual clock too.
install_clock_hook()

import copy  # noqa: E402
import json  # noqa: E402
import subprocess  # noqa: E402
import sys  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

import pytest  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
FIXTURES = ROOT / "fixtures"


def load_fixture(relative: str) -> Any:
    return json.loads((FIXTURES / relative).read_text())


@pytest.fixture
def full_call() -> dict[str, Any]:
    """A call document where every field is set to a valid value."""
    return copy.deepcopy(load_fixture("configs/full_call.json"))


@pytest.fixture
def minimal_assistant() -> dict[str, Any]:
    return {"prompt": "You are a helpful agent."}


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """``agent-runtime ARGS`` run as a newcomer runs it, from the repository's root."""
    return subprocess.run(
        [sys.executable, "-m", "agent_runtime.cli", *args],
        capture_output=True,
        text=True,
        cwd=ROOT,
        timeout=300,
    )
