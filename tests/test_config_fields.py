"""Each field family of the assistant and call config: defaults, enums, ranges, safe readings."""

from __future__ import annotations

from typing import Any

import pytest

from agent_runtime.config.assistant import DEFAULT_MAX_CALL_DURATION_SECS
from agent_runtime.config.llm import CustomLLM, DedicatedLLM, OpenRouterLLM, RealtimeLLM
from agent_runtime.config.loading import spec_from_document
from agent_runtime.errors import ConfigError


def _load(assistant: dict[str, Any], **call: Any) -> Any:
    document = {"id": "c1", "direction": "inbound", "assistant": assistant, **call}
    return spec_from_document(document)


def _warnings(spec: Any) -> dict[str, str]:
    return {w.path: w.reason for w in spec.warnings}


def test_documented_defaults(minimal_assistant: dict[str, Any]) -> None:
    spec = _load(minimal_assistant)
    a = spec.assistant
    assert spec.first_sentence_delay_ms == 400
    assert a.first_sentence_mode == "generated"
    assert a.llm_model == DedicatedLLM(type="dedicated-instance", name="gpt-4.1")
    assert a.voice is None
    assert a.background_sound is None and a.thinking_sound is None
    assert a.ivr_navigation_enabled is False and a.sms_enabled is False
    assert a.max_duration_secs == DEFAULT_MAX_CALL_DURATION_SECS
    assert a.custom_tools == [] and a.faq_items == [] and a.structured_output_config == []
    assert spec.warnings == ()


def test_null_means_the_default(minimal_assistant: dict[str, Any]) -> None:
    assistant = {
        **minimal_assistant,
        "first_sentence_delay_ms": None,
        "sms_enabled": None,
        "custom_tools": None,
        "voicemail_message": None,
    }
    spec = _load(assistant)
    assert spec.first_sentence_delay_ms == 400
    assert spec.assistant.sms_enabled is False
    assert spec.assistant.custom_tools == []


def test_full_call_loads_every_field(full_call: dict[str, Any]) -> None:
    spec = spec_from_document(full_call)
    call, a = spec.call, spec.assistant
    assert all(w.reason.startswith("accepted but not acted on yet") for w in spec.warnings)
    assert (call.from_phone_number, call.to_phone_number) == ("+14155550123", "+33612345678")
    assert call.user_phone_number == "+33612345678"
    assert call.agent_phone_number == "+14155550123"
    assert call.metadata == {"crm_id": "42"}
    assert spec.time_zone == "America/Chicago"
    assert spec.first_sentence == "Hello Camille, this is Alex from Acme."
    assert spec.end_of_call_sentence == "Thanks Camille, goodbye!"
    assert spec.voicemail_message == "Hi Camille, Alex from Acme here, please call us back."
    assert a.transfer_mode == "warm"
    assert a.calendly is not None and a.calendly.connection_id == "conn_1"
    assert a.custom_tools[0].input_schema[2].enum_options == ["eu", "us"]
    assert a.custom_tools[0].unusable_reason() is None
    assert a.call_retry_config is not None
    window = a.call_retry_config.calling_windows[0]
    assert (window.calling_window_start_time, window.retry_delay_seconds) == ("9am", 3600)
    assert a.email_notification_address == "ops@acme.example"
    assert isinstance(spec.llm_model, OpenRouterLLM)


def test_prompt_flow_is_kept_but_never_reaches_the_llm(full_call: dict[str, Any]) -> None:
    spec = spec_from_document(full_call)
    assert spec.assistant.prompt_flow is not None
    assert spec.assistant.prompt_flow.nodes[0].data.body == "FLOW-ONLY-TEXT greet"
    assert "FLOW-ONLY-TEXT" not in spec.instructions


def test_faq_items_with_answers_reach_the_llm(full_call: dict[str, Any]) -> None:
    spec = spec_from_document(full_call)
    assert "Q: What does Premium cost?\nA: 29 euros a month." in spec.instructions
    assert "Pending question?" not in spec.instructions


@pytest.mark.parametrize(
    ("llm_model", "expected"),
    [
        ({"type": "dedicated-instance", "name": "gpt-4.1"}, DedicatedLLM),
        ({"type": "dedicated-instance", "name": "ministral-3-8b-instruct"}, DedicatedLLM),
        (
            {"type": "openrouter", "openrouter_model_id": "a/b", "openrouter_provider": "nebius"},
            OpenRouterLLM,
        ),
        (
            {
                "type": "custom",
                "api_key": "sk-x",
                "api_url": "https://api.together.xyz/v1",
                "model_name": "meta-llama/llama-3-70b",
            },
            CustomLLM,
        ),
        (
            {"type": "realtime", "provider": "openai", "realtime_model_id": "gpt-realtime"},
            RealtimeLLM,
        ),
        (
            {
                "type": "realtime",
                "provider": "google",
                "realtime_model_id": "gemini-live",
                "realtime_voice_id": "Puck",
            },
            RealtimeLLM,
        ),
    ],
)
def test_every_llm_model_variant(
    minimal_assistant: dict[str, Any], llm_model: dict[str, Any], expected: type
) -> None:
    spec = _load({**minimal_assistant, "llm_model": llm_model})
    assert spec.llm_model.model_dump(mode="json")["type"] == llm_model["type"]
    assert type(spec.llm_model) is expected


def test_unknown_llm_type_is_an_error(minimal_assistant: dict[str, Any]) -> None:
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "llm_model": {"type": "local", "name": "x"}})
    assert caught.value.problems[0].path == "$.assistant.llm_model"


@pytest.mark.parametrize(
    ("provider", "speed", "used", "warned"),
    [
        ("cartesia", 1.0, 1.0, False),
        ("cartesia", 0.6, 0.6, False),
        ("cartesia", 1.5, 1.5, False),
        ("cartesia", 0.4, 0.6, True),
        ("cartesia", 1.8, 1.5, True),
        ("elevenlabs", 0.7, 0.7, False),
        ("elevenlabs", 1.2, 1.2, False),
        ("elevenlabs", 0.6, 0.7, True),
        ("elevenlabs", 1.4, 1.2, True),
    ],
)
def test_voice_speed_is_clamped_to_the_provider_range(
    minimal_assistant: dict[str, Any], provider: str, speed: float, used: float, warned: bool
) -> None:
    spec = _load({**minimal_assistant, "voice": {"id": "v1", "provider": provider, "speed": speed}})
    assert spec.assistant.voice is not None
    assert spec.assistant.voice.speed == used
    warnings = _warnings(spec)
    assert ("$.assistant.voice.speed" in warnings) is warned
    if warned:
        assert provider in warnings["$.assistant.voice.speed"]


def test_voice_defaults_and_volume_range(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({**minimal_assistant, "voice": {"id": "v1", "provider": "elevenlabs"}})
    assert spec.assistant.voice is not None
    assert (spec.assistant.voice.speed, spec.assistant.voice.volume) == (1.0, 1.0)
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "voice": {"id": "v1", "provider": "cartesia", "volume": 2.5}})
    assert [p.path for p in caught.value.problems] == ["$.assistant.voice.volume"]


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("background_sound_volume", 1.5),
        ("thinking_sound_volume", -0.1),
        ("thinking_sound_probability", 2),
        ("thinking_sound", "rain.ogg"),
        ("background_sound", "audio/cafe.ogg"),
        ("first_sentence_mode", "always"),
        ("human_transfer_mode", "lukewarm"),
        ("email_notification_address", "not-an-email"),
        ("email_notification_outcomes", ["maybe"]),
        ("max_duration_end_message", "x" * 151),
        ("sms_enabled", "sometimes"),
    ],
)
def test_out_of_contract_values_are_errors_at_their_path(
    minimal_assistant: dict[str, Any], field: str, value: Any
) -> None:
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, field: value})
    assert {p.path.split("[")[0] for p in caught.value.problems} == {f"$.assistant.{field}"}


def test_sound_settings_in_range(minimal_assistant: dict[str, Any]) -> None:
    spec = _load(
        {
            **minimal_assistant,
            "background_sound": "audio/office.ogg",
            "background_sound_volume": 0,
            "thinking_sound": "hold_music.ogg",
            "thinking_sound_probability": 1,
            "thinking_sound_volume": 1,
        }
    )
    a = spec.assistant
    assert (a.background_sound, a.background_sound_volume) == ("audio/office.ogg", 0)
    assert (a.thinking_sound, a.thinking_sound_probability, a.thinking_sound_volume) == (
        "hold_music.ogg",
        1,
        1,
    )


def test_max_duration_message_of_150_chars_is_fine(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({**minimal_assistant, "max_duration_end_message": "x" * 150})
    assert spec.max_duration_end_message == "x" * 150


@pytest.mark.parametrize("value", [0, -5])
def test_non_positive_max_duration_uses_the_default(
    minimal_assistant: dict[str, Any], value: float
) -> None:
    spec = _load({**minimal_assistant, "max_call_duration_secs": value})
    assert spec.assistant.max_duration_secs == DEFAULT_MAX_CALL_DURATION_SECS
    assert "$.assistant.max_call_duration_secs" in _warnings(spec)


def test_transfer_settings(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({**minimal_assistant, "transfer_phone_number": "+442071838750"})
    assert spec.assistant.transfer_mode == "cold"
    assert "$.assistant.human_transfer_mode" in _warnings(spec)
    assert "$.assistant.transfer_phone_number" not in _warnings(spec)  # cold transfer works
    spec = _load({**minimal_assistant, "transfer_phone_number": "0207 183 8750"})
    assert spec.assistant.transfer_mode is None
    assert "E.164" in _warnings(spec)["$.assistant.transfer_phone_number"]
    spec = _load(
        {
            **minimal_assistant,
            "transfer_phone_number": "+44 20 7183 8750",
            "human_transfer_mode": "cold",
        }
    )
    assert spec.assistant.transfer_phone_number == "+442071838750"
    assert spec.warnings == ()


def test_phone_numbers_are_normalised_to_e164(minimal_assistant: dict[str, Any]) -> None:
    spec = _load(
        minimal_assistant,
        from_phone_number="+1 (415) 555-0123",
        to_phone_number="+33 6 12 34 56 78",
    )
    assert spec.call.from_phone_number == "+14155550123"
    assert spec.call.to_phone_number == "+33612345678"


def test_unassigned_number_is_refused(minimal_assistant: dict[str, Any]) -> None:
    spec = _load(minimal_assistant, to_phone_number="+1234567890")
    assert spec.call.to_phone_number is None
    assert "not a valid phone number" in _warnings(spec)["$.to_phone_number"]


@pytest.mark.parametrize(
    ("raw", "iso"),
    [
        ("2026-11-20T09:30:00Z", "2026-11-20T09:30:00+00:00"),
        ("2026-11-20T10:30:00+01:00", "2026-11-20T09:30:00+00:00"),
        (1795167000, "2026-11-20T09:30:00+00:00"),
        (1795167000000, "2026-11-20T09:30:00+00:00"),
    ],
)
def test_timestamps(minimal_assistant: dict[str, Any], raw: Any, iso: str) -> None:
    spec = _load(minimal_assistant, created_at=raw)
    assert spec.call.created_at is not None
    assert spec.call.created_at.isoformat() == iso


def test_custom_tool_rules(minimal_assistant: dict[str, Any], full_call: dict[str, Any]) -> None:
    tool = full_call["call"]["assistant"]["custom_tools"][0]
    for name, reason in [
        ("CheckInventory", "lowercase_snake_case"),
        ("check-inventory", "lowercase_snake_case"),
        ("end_call", "built-in tool"),
    ]:
        with pytest.raises(ConfigError) as caught:
            _load({**minimal_assistant, "custom_tools": [{**tool, "name": name}]})
        assert caught.value.problems[0].path == "$.assistant.custom_tools[0].name"
        assert reason in caught.value.problems[0].reason
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "custom_tools": [tool, tool]})
    assert "unique" in caught.value.problems[0].reason
    enum_without_options = {
        **tool,
        "input_schema": [{"name": "x", "required": True, "type": "enum"}],
    }
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "custom_tools": [enum_without_options]})
    assert caught.value.problems[0].path == "$.assistant.custom_tools[0].input_schema[0]"
    bad_body = {**tool, "body_template": '{"sku": {{sku}'}
    spec = _load({**minimal_assistant, "custom_tools": [bad_body]})
    assert "valid JSON" in _warnings(spec)["$.assistant.custom_tools[0].body_template"]
    assert spec.assistant.custom_tools[0].unusable_reason() is not None


def test_structured_output_names_are_unique(minimal_assistant: dict[str, Any]) -> None:
    field = {"name": "email", "required": True, "type": "string"}
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "structured_output_config": [field, field]})
    assert caught.value.problems[0].path == "$.assistant"
    assert "email" in caught.value.problems[0].reason


def test_call_retry_config(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({**minimal_assistant, "call_retry_config": {}})
    retry = spec.assistant.call_retry_config
    assert retry is not None
    assert retry.allowed_days == ["monday", "tuesday", "wednesday", "thursday", "friday"]
    assert retry.max_retry_attempts == 3 and retry.call_twice_in_a_row is False
    assert retry.calling_windows[0].calling_window_start_time == "10:00"
    with pytest.raises(ConfigError) as caught:
        _load({**minimal_assistant, "call_retry_config": {"max_retry_attempts": 0}})
    assert caught.value.problems[0].path == "$.assistant.call_retry_config.max_retry_attempts"
    spec = _load({**minimal_assistant, "call_retry_config": {"timezone": "Mars/Olympus"}})
    assert "IANA" in _warnings(spec)["$.assistant.call_retry_config.timezone"]


def test_assistant_values_win_over_call_level_copies(minimal_assistant: dict[str, Any]) -> None:
    openrouter = {"type": "openrouter", "openrouter_model_id": "a/b", "openrouter_provider": "x"}
    spec = _load(minimal_assistant, llm_model=openrouter, first_sentence_delay_ms=900)
    assert isinstance(spec.llm_model, OpenRouterLLM)
    assert spec.first_sentence_delay_ms == 900
    spec = _load({**minimal_assistant, "first_sentence_delay_ms": 100}, first_sentence_delay_ms=900)
    assert spec.first_sentence_delay_ms == 100
    assert "$.first_sentence_delay_ms" in _warnings(spec)


def test_unknown_fields_are_ignored_with_a_warning(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({**minimal_assistant, "first_sentance": "Hi"})
    assert _warnings(spec) == {"$.assistant.first_sentance": "unknown field, ignored"}


def test_prompt_variables_accept_scalars(minimal_assistant: dict[str, Any]) -> None:
    spec = _load({"prompt": "{{age}} {{vip}}"}, prompt_variables={"age": 42, "vip": True})
    assert spec.instructions == "42 true"


def test_faq_items_waiting_for_a_human_answer_are_not_given_as_answers(
    minimal_assistant: dict[str, Any],
) -> None:
    faq = [
        {"question": "Do you ship abroad?", "answer": "Yes, to the EU.", "source": "human"},
        {
            "question": "Do you ship to Canada?",
            "answer": "Probably yes?",
            "source": "ai",
            "needs_human_answer": True,
        },
    ]
    spec = _load({**minimal_assistant, "faq_items": faq})
    assert "Do you ship abroad?" in spec.instructions
    assert "Canada" not in spec.instructions
