"""``{{variable}}`` rendering: missing values, escaping, JSON bodies and the callee's time zone."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest

from agent_runtime.config.loading import spec_from_document
from agent_runtime.config.templating import render_json, render_text
from agent_runtime.errors import TemplateError

NOW = datetime(2026, 11, 21, 23, 41, tzinfo=UTC)


def test_placeholders_with_spaces_and_repeats() -> None:
    rendered = render_text("Hi {{ name }}, {{name}}! {{greeting}}", {"name": "Ana"})
    assert rendered.text == "Hi Ana, Ana! "
    assert rendered.missing == ("greeting",)
    dotted = render_text("{{ b.c }}", {"b.c": "x"})
    assert dotted.text == "x"


def test_values_are_not_expanded_twice() -> None:
    rendered = render_text("{{reply}}", {"reply": "{{secret}}", "secret": "s3cr3t"})
    assert rendered.text == "{{secret}}"


def test_text_is_left_alone_where_it_only_looks_like_a_placeholder() -> None:
    assert render_text("{ {x} } {{ }} {{1x}}", {"x": "y"}).text == "{ {x} } {{ }} {{1x}}"


@pytest.mark.parametrize(
    "value",
    [
        'He said "hi"',
        "line one\nline two\ttab",
        "back\\slash",
        "émoji 😀 日本語",
        "</script>{{x}}",
        "",
    ],
)
def test_json_body_stays_valid_whatever_the_string(value: str) -> None:
    template = '{"note": "{{v}}", "prefix": "id-{{v}}-end"}'
    rendered = render_json(template, {"v": value})
    assert json.loads(rendered.text) == {"note": value, "prefix": f"id-{value}-end"}


@pytest.mark.parametrize(
    ("value", "expected"),
    [(3, 3), (2.5, 2.5), (True, True), ("x", "x"), (None, None), ({"a": [1]}, {"a": [1]})],
)
def test_bare_placeholders_become_json_values(value: Any, expected: Any) -> None:
    rendered = render_json('{"n": {{v}}}', {"v": value})
    assert json.loads(rendered.text) == {"n": expected}


def test_missing_values_in_json() -> None:
    rendered = render_json('{"a": "{{gone}}", "b": {{gone2}}}', {})
    assert json.loads(rendered.text) == {"a": "", "b": None}
    assert rendered.missing == ("gone", "gone2")


def test_escaped_quotes_in_the_template_keep_string_tracking() -> None:
    rendered = render_json('{"a": "say \\"{{v}}\\"", "b": {{n}}}', {"v": 'x"y', "n": 1})
    assert json.loads(rendered.text) == {"a": 'say "x"y"', "b": 1}


def test_invalid_json_template_is_an_error() -> None:
    with pytest.raises(TemplateError, match="valid JSON"):
        render_json('{"a": {{v}}', {"v": 1})


def _spec(assistant: dict[str, Any], **call: Any) -> Any:
    document = {"id": "c", "direction": "outbound", "assistant": assistant, **call}
    return spec_from_document(document, now=NOW)


def test_unresolved_placeholder_is_a_warning_and_never_reaches_the_llm() -> None:
    spec = _spec({"prompt": "Hello {{first_name}}.", "first_sentence": "Hi {{first_name}}"})
    assert spec.instructions == "Hello ."
    assert "{{" not in spec.instructions
    warnings = {w.path: w.reason for w in spec.warnings}
    assert warnings["$.assistant.prompt"] == "{{first_name}} has no value; left empty"
    assert "$.assistant.first_sentence" in warnings


def test_builtins_in_the_callee_time_zone_from_the_phone_number() -> None:
    spec = _spec(
        {"prompt": "{{current_date}} {{current_time}} {{timezone}} {{call_direction}}"},
        from_phone_number="+14155550123",
        to_phone_number="+33612345678",
    )
    # 23:41 UTC is 00:41 the next day in Paris
    assert spec.instructions == "Sunday, November 22, 2026 00:41 Europe/Paris outbound"
    assert spec.variables["user_phone_number"] == "+33612345678"
    assert spec.variables["agent_phone_number"] == "+14155550123"


def test_inbound_call_reads_the_caller_number() -> None:
    spec = _spec(
        {"prompt": "{{user_phone_number}} {{timezone}}"},
        direction="inbound",
        from_phone_number="+12125551234",
        to_phone_number="+33612345678",
    )
    assert spec.instructions == "+12125551234 America/New_York"


def test_retry_config_time_zone_wins_over_the_number() -> None:
    spec = _spec(
        {"prompt": "{{current_time}}", "call_retry_config": {"timezone": "Asia/Tokyo"}},
        to_phone_number="+33612345678",
    )
    assert spec.instructions == "08:41"
    assert spec.time_zone == "Asia/Tokyo"


def test_no_number_and_no_time_zone_means_utc() -> None:
    spec = _spec({"prompt": "{{current_datetime}}"})
    assert spec.instructions == "2026-11-21T23:41+00:00"


def test_prompt_variables_override_builtins() -> None:
    spec = _spec({"prompt": "{{current_date}}"}, prompt_variables={"current_date": "tomorrow"})
    assert spec.instructions == "tomorrow"


def test_render_with_tool_arguments() -> None:
    spec = _spec({"prompt": "p"}, prompt_variables={"name": "Ana"})
    assert spec.render("{{name}} wants {{sku}}", {"sku": "A-1"}).text == "Ana wants A-1"
