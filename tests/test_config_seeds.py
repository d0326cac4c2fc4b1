"""Every response example object of the API reference loads, with the documented safe readings."""

from __future__ import annotations

import pytest

from agent_runtime.config.attempt import CallAttempt
from agent_runtime.config.loading import spec_from_document

from .conftest import load_fixture


def _call_documents() -> list[tuple[str, dict]]:
    rows = load_fixture("seeds/campaign_rows.response.json")["rows"]
    return [
        ("place_call", load_fixture("seeds/place_call.response.json")),
        ("get_call", load_fixture("seeds/get_call.response.json")),
        *[(f"campaign_rows[{i}]", {"call": row["call"]}) for i, row in enumerate(rows)],
    ]


@pytest.mark.parametrize(("name", "document"), _call_documents(), ids=lambda v: str(v)[:20])
def test_every_call_example_loads(name: str, document: dict) -> None:
    spec = spec_from_document(document, source=name)
    call = spec.call
    assert call.id == "id"
    assert call.direction == "inbound"
    assert spec.llm_model.type == "dedicated-instance"
    paths = {w.path: w.reason for w in spec.warnings}
    # safe readings of values the create parameters forbid
    assert spec.first_sentence_delay_ms == 0
    assert "$.call.assistant.first_sentence_delay_ms" in paths
    assert "negative" in paths["$.call.assistant.first_sentence_delay_ms"]
    assert call.created_at is None and "$.call.created_at" in paths
    assert call.assistant.max_call_duration_secs is None
    assert call.assistant.max_duration_secs == 1800
    assert call.assistant.transfer_phone_number is None
    assert call.assistant.transfer_mode is None
    assert call.call_attempts[0].transcript is not None
    assert call.call_attempts[0].transcript[0].tool_arguments == {"foo": "bar"}


def test_the_assistant_example_loads() -> None:
    spec = spec_from_document(load_fixture("seeds/create_assistant.response.json"))
    assistant = spec.assistant
    assert assistant.voice is not None
    assert (assistant.voice.provider, assistant.voice.speed, assistant.voice.volume) == (
        "cartesia",
        0.6,
        0.5,
    )
    assert assistant.thinking_sound == "city-ambience.ogg"
    assert assistant.email_notification_outcomes == ["not_interested"]
    assert assistant.custom_tools[0].unusable_reason() == "url is not an absolute http(s) URL"
    paths = {w.path for w in spec.warnings}
    assert "$.assistant.custom_tools[0].url" in paths
    assert "$.assistant.webhook_url" in paths


def test_place_call_example_keeps_prompt_flow_out_of_the_prompt() -> None:
    spec = spec_from_document(load_fixture("seeds/place_call.response.json"))
    assert spec.assistant.prompt_flow is not None
    assert spec.instructions.startswith("prompt")


def test_seed_call_attempt_round_trips_as_report_json() -> None:
    raw = load_fixture("seeds/place_call.response.json")["call"]["call_attempts"][0]
    attempt = CallAttempt.model_validate(raw)
    dumped = attempt.model_dump(mode="json")
    assert set(dumped) == set(raw)
    assert dumped["transcript"] == raw["transcript"]
    assert dumped["started_at"] is None  # "{}" is not a timestamp: read as unknown
