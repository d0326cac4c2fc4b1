"""Invalid config: one error listing every problem with its JSON path, never a secret."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from agent_runtime.config.loading import load_file, load_text, spec_from_document
from agent_runtime.errors import ConfigError

SECRET = "sk-live-DO-NOT-LEAK-9f8e7d"


def _bad_call() -> dict[str, Any]:
    return {
        "call": {
            "id": "c1",
            "direction": "sideways",
            "assistant": {
                "voice": {"id": "", "provider": "azure"},
                "llm_model": {
                    "type": "custom",
                    "api_key": SECRET,
                    "api_url": "ftp://" + SECRET,
                    "model_name": "",
                },
                "thinking_sound_probability": 1.5,
                "custom_tools": [
                    {
                        "name": "lookup",
                        "description": "",
                        "method": "FETCH",
                        "url": "https://x.example",
                        "headers": [{"key": "", "value": SECRET}],
                    }
                ],
            },
        }
    }


def test_every_problem_is_listed_with_its_path() -> None:
    with pytest.raises(ConfigError) as caught:
        spec_from_document(_bad_call(), source="job metadata")
    problems = {p.path: p.reason for p in caught.value.problems}
    assert problems == {
        "$.call.direction": "must be 'inbound' or 'outbound'",
        "$.call.assistant.prompt": "is required",
        "$.call.assistant.voice.id": "must not be empty",
        "$.call.assistant.voice.provider": "must be 'cartesia' or 'elevenlabs'",
        "$.call.assistant.llm_model.api_url": (
            "must be an absolute http(s) URL, e.g. https://api.example.com/v1"
        ),
        "$.call.assistant.llm_model.model_name": "must not be empty",
        "$.call.assistant.thinking_sound_probability": "must be less than or equal to 1",
        "$.call.assistant.custom_tools[0].description": "must not be empty",
        "$.call.assistant.custom_tools[0].method": (
            "must be 'GET', 'POST', 'PUT', 'PATCH' or 'DELETE'"
        ),
        "$.call.assistant.custom_tools[0].headers[0].key": "must not be empty",
    }
    message = str(caught.value)
    assert message.startswith("job metadata is invalid (10 problems):")
    assert SECRET not in message
    assert all(SECRET not in p.reason for p in caught.value.problems)


def test_secret_is_not_in_warnings_or_the_repr_of_the_model() -> None:
    document = {
        "prompt": "p",
        "llm_model": {
            "type": "custom",
            "api_key": SECRET,
            "api_url": "https://llm.example/v1",
            "model_name": "m",
        },
    }
    spec = spec_from_document(document)
    assert SECRET not in repr(spec.call)
    assert SECRET not in str(spec.warnings)
    assert SECRET not in spec.call.model_dump_json()


def test_bare_assistant_paths_start_at_the_assistant() -> None:
    with pytest.raises(ConfigError) as caught:
        spec_from_document({"prompt": "p", "voice": {"id": "v"}})
    assert [p.path for p in caught.value.problems] == ["$.voice.provider"]
    with pytest.raises(ConfigError) as caught:
        spec_from_document({"assistant": {"prompt": "p", "voice": {"id": "v"}}})
    assert [p.path for p in caught.value.problems] == ["$.assistant.voice.provider"]


def test_json_syntax_error_says_where() -> None:
    with pytest.raises(ConfigError) as caught:
        load_text('{"prompt": "p",}', source="call.json")
    (problem,) = caught.value.problems
    assert problem.path == "$"
    assert "line 1, col 16" in problem.reason


@pytest.mark.parametrize(
    ("document", "reason"),
    [
        ([1, 2], "must be a JSON object"),
        ({"name": "no prompt"}, "neither a call"),
        ({"call": "x"}, "must be a JSON object"),
    ],
)
def test_documents_that_are_neither_call_nor_assistant(document: Any, reason: str) -> None:
    with pytest.raises(ConfigError) as caught:
        spec_from_document(document)
    assert reason in caught.value.problems[0].reason


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_file(tmp_path / "nope.json")
    assert "cannot be read" in caught.value.problems[0].reason


def test_load_file_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "a.json"
    path.write_text(json.dumps({"prompt": "Hi"}))
    assert load_file(path).instructions == "Hi"
