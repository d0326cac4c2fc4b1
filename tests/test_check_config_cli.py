"""``agent-runtime check-config``: problems, warnings, the rendered prompt and the exit code."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from agent_runtime.cli import main

from .conftest import FIXTURES


def test_valid_file_prints_the_rendered_prompt(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["check-config", str(FIXTURES / "configs/full_call.json")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("VALID ")
    assert "You call Camille about the Premium plan renewal." in out
    assert "custom tools: check_inventory" in out
    assert "{{" not in out.split("--- prompt sent to the LLM ---")[1]


def test_warnings_are_printed_and_strict_fails_on_them(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"prompt": "Hi {{name}}", "first_sentence_delay_ms": -1}))
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning $.first_sentence_delay_ms: is negative; 0 is used" in out
    assert "warning $.prompt: {{name}} has no value; left empty" in out
    assert main(["check-config", "--strict", str(path)]) == 1


def test_invalid_file_lists_errors_and_exits_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "bad.json"
    secret = "sk-should-not-print"
    llm = {"type": "custom", "api_key": secret, "api_url": "nope", "model_name": "m"}
    path.write_text(json.dumps({"prompt": "p", "llm_model": llm, "voice": {"provider": "x"}}))
    assert main(["check-config", str(path)]) == 1
    err = capsys.readouterr().err
    assert "INVALID" in err
    assert "error   $.llm_model.api_url: must be an absolute http(s) URL" in err
    assert "error   $.voice.id: is required" in err
    assert secret not in err


def test_every_seed_example_passes(capsys: pytest.CaptureFixture[str]) -> None:
    for name in ("place_call", "get_call", "create_assistant"):
        assert main(["check-config", str(FIXTURES / f"seeds/{name}.response.json")]) == 0
    assert capsys.readouterr().out.count("VALID") == 3
