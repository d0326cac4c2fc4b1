"""Greeting modes and what the LLM receives, on replayed calls."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES
from .replays import agent_segments, caller_speech

pytestmark = pytest.mark.replay


def _replay(
    tmp_path: Path,
    assistant: dict[str, Any],
    answers: list[dict[str, Any]] | None = None,
    variables: dict[str, str] | None = None,
) -> ReplayResult:
    folder = tmp_path / "call"
    shutil.copytree(FIXTURES / "calls/hangup_mid_sentence", folder)
    call = json.loads((folder / "call.json").read_text())
    call["call"]["assistant"].update(assistant)
    call["call"]["prompt_variables"].update(variables or {})
    (folder / "call.json").write_text(json.dumps(call))
    if answers:
        llm = json.loads((folder / "llm.json").read_text())
        llm["answers"] = answers + llm["answers"]
        (folder / "llm.json").write_text(json.dumps(llm))
    return run_replay(folder, fast=True)


def test_static_greeting_is_said_exactly_after_the_delay(tmp_path: Path) -> None:
    result = _replay(
        tmp_path,
        {"first_sentence": "Hi {{customer}}, Alex here.", "first_sentence_delay_ms": 1500},
        variables={"customer": "Dana"},
    )
    rows = result.call.report.transcript or []
    assert rows[0].role == "assistant" and rows[0].content == "Hi Dana, Alex here."
    start, _, _ = agent_segments(result)[0]
    assert start == pytest.approx(1.5, abs=0.05)
    assert all(
        r.answered_with != 0 or r.messages[-1]["role"] == "user" for r in result.llm_requests
    )
    assert len(result.llm_requests) == 1  # the greeting needed no LLM


def test_generated_greeting_comes_from_the_llm(tmp_path: Path) -> None:
    result = _replay(
        tmp_path,
        {"first_sentence_mode": "generated", "first_sentence": "Greet {{customer}} by name."},
        answers=[{"when": {"greeting": True}, "text": "Good morning Dana!", "ttft": 0.2}],
        variables={"customer": "Dana"},
    )
    rows = result.call.report.transcript or []
    assert rows[0].content == "Good morning Dana!"
    first = result.llm_requests[0].messages
    assert {"role": "system", "content": "Greet Dana by name."} in first


def test_no_greeting_waits_for_the_caller(tmp_path: Path) -> None:
    result = _replay(tmp_path, {"first_sentence_mode": "none"})
    rows = result.call.report.transcript or []
    assert rows[0].role == "user"
    first_caller_start = caller_speech(result)[0][0]
    assert agent_segments(result)[0][0] > first_caller_start


def test_the_llm_gets_the_prompt_and_faq_but_not_the_prompt_flow(tmp_path: Path) -> None:
    flow = {"nodes": [{"id": "n", "data": {"title": "t", "body": "FLOW-SECRET-PLAN"}}], "edges": []}
    result = _replay(
        tmp_path,
        {
            "prompt": "You help {{customer}}.",
            "faq_items": [{"question": "Do you ship abroad?", "answer": "Yes, to the EU."}],
            "prompt_flow": flow,
        },
        variables={"customer": "Dana"},
    )
    system = result.llm_requests[0].messages[0]["content"]
    assert system.startswith("You help Dana.")
    assert "Q: Do you ship abroad?\nA: Yes, to the EU." in system
    assert "FLOW-SECRET-PLAN" not in json.dumps(result.llm_requests[0].body)
