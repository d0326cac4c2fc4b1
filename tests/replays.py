"""Replayed fixtures, each run once per test session on the virtual clock."""

from __future__ import annotations

import functools
import tempfile
from pathlib import Path

from agent_runtime.replay.recorded_call import Utterance
from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES


@functools.cache
def replayed(name: str) -> ReplayResult:
    """The result of replaying ``fixtures/calls/<name>`` (fast, on the virtual clock)."""
    output = Path(tempfile.mkdtemp(prefix=f"replay-{name}-"))
    return run_replay(FIXTURES / "calls" / name, fast=True, output_dir=output)


def caller_speech(result: ReplayResult) -> list[tuple[float, float]]:
    """When the caller really spoke (the recorded truth), in report time."""
    utterances: list[Utterance] = list(result.recorded.stt.utterances)
    return [(u.start + result.caller_offset, u.end + result.caller_offset) for u in utterances]


def agent_segments(result: ReplayResult) -> list[tuple[float, float, bool]]:
    """When the agent's voice played, in report time, and whether it was cut short."""
    speech = result.call.report.runtime.speech
    return [(s.start, s.end, s.interrupted) for s in speech if s.role == "assistant"]
