"""Pathological JSON (deep nesting, huge numbers) is a ``ConfigError``, never a crash."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.cli import main
from agent_runtime.config.loading import MAX_DEPTH, MAX_NUMBER_DIGITS, load_text
from agent_runtime.config.sources import load_job_metadata
from agent_runtime.errors import ConfigError, Problem


def _call(**variables: str) -> dict[str, Any]:
    return {
        "call": {
            "id": "c1",
            "direction": "outbound",
            "assistant": {"prompt": "You are a helpful agent."},
            "prompt_variables": dict(variables),
        }
    }


def _with_raw_variable(raw: str) -> str:
    """A call document whose ``prompt_variables.x`` is the raw JSON text ``raw``."""
    return json.dumps(_call(x="@")).replace('"@"', raw)


TOO_DEEP = Problem("$", f"nesting is deeper than {MAX_DEPTH} levels")
TOO_LONG = Problem("$.call.prompt_variables.x", f"number has more than {MAX_NUMBER_DIGITS} digits")

PATHOLOGICAL = [
    pytest.param("[" * 100_000 + "]" * 100_000, [TOO_DEEP], id="100000-deep-nesting"),
    pytest.param(_with_raw_variable("[" * 5_000 + "]" * 5_000), [TOO_DEEP], id="5000-deep-value"),
    pytest.param(_with_raw_variable("9" * 5_001), [TOO_LONG], id="5001-digit-integer"),
]


@pytest.mark.parametrize(("text", "problems"), PATHOLOGICAL)
def test_load_text_refuses_it(text: str, problems: list[Problem]) -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(text, source="call.json")
    assert caught.value.problems == problems
    assert caught.value.source == "call.json"


@pytest.mark.parametrize(("text", "problems"), PATHOLOGICAL)
def test_check_config_reports_it_without_a_traceback(
    text: str, problems: list[Problem], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "call.json"
    path.write_text(text)
    assert main(["check-config", str(path)]) == 1
    captured = capsys.readouterr()
    assert captured.out == ""
    assert captured.err.startswith(f"INVALID {path}\n")
    assert f"  error   {problems[0]}" in captured.err
    assert "Traceback" not in captured.err


@pytest.mark.parametrize(("text", "problems"), PATHOLOGICAL)
async def test_job_metadata_refuses_it(text: str, problems: list[Problem]) -> None:
    with pytest.raises(ConfigError) as caught:
        await load_job_metadata(text, endpoint=None)
    assert caught.value.problems == problems
    assert caught.value.source == "job metadata"


def test_bytes_are_checked_too() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text(("[" * 100_000).encode(), source="body")
    assert caught.value.problems == [TOO_DEEP]


def test_the_limits_themselves_are_accepted() -> None:
    inner = MAX_DEPTH - 2  # inside the document's object and the call object
    deep = "[" * inner + "]" * inner
    document = json.dumps(_call()).replace("{}", '{}, "extra": ' + deep)
    assert load_text(document, source="call.json").call.id == "c1"
    with pytest.raises(ConfigError) as caught:
        load_text(document.replace(deep, f"[{deep}]"), source="call.json")
    assert caught.value.problems == [TOO_DEEP]

    assert load_text(_with_raw_variable("9" * MAX_NUMBER_DIGITS), source="call.json")
    with pytest.raises(ConfigError):
        load_text(_with_raw_variable("9" * (MAX_NUMBER_DIGITS + 1)), source="call.json")


def test_brackets_inside_strings_do_not_count_as_nesting() -> None:
    prompt = '[{"\\"' * 1_000
    document = {"prompt": prompt, "first_sentence": "}]" * 1_000}
    spec = load_text(json.dumps(document), source="assistant.json")
    assert spec.assistant.prompt == prompt


def test_every_long_number_is_named_by_its_path() -> None:
    long = "1" * (MAX_NUMBER_DIGITS + 1)
    text = f'{{"prompt": "Hi", "a": [0, -{long}, {{"b": {long}.5}}], "c": 1e{long}}}'
    with pytest.raises(ConfigError) as caught:
        load_text(text, source="assistant.json")
    assert [p.path for p in caught.value.problems] == ["$.a[1]", "$.a[2].b", "$.c"]


def test_a_syntax_error_after_deep_brackets_in_a_string_is_still_a_syntax_error() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text('{"prompt": "' + "[" * 100, source="assistant.json")
    assert "is not valid JSON" in caught.value.problems[0].reason
