"""Custom HTTP tools: the LLM-facing schema, argument checks, request rendering, answers, and
every failure mode in a replayed call."""

from __future__ import annotations

import json
import shutil
from pathlib import Path
from typing import Any

import pytest
from livekit.agents import llm

from agent_runtime.config.assistant import CustomTool, FieldSpec, KeyValue
from agent_runtime.integrations.egress import HttpToolSettings, Response
from agent_runtime.plugins.http_tools import (
    check_arguments,
    describe,
    parameters_schema,
    prepare,
)
from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES

INPUTS = [
    FieldSpec(name="sku", required=True, type="string", description="Product code"),
    FieldSpec(name="quantity", type="number"),
    FieldSpec(name="gift", type="boolean"),
    FieldSpec(name="region", required=True, type="enum", enum_options=["eu", "us"]),
    FieldSpec(name="deliver_on", type="date"),
    FieldSpec(name="call_at", type="datetime"),
]


def test_schema_of_every_field_type() -> None:
    schema = parameters_schema(INPUTS)
    assert schema["required"] == ["sku", "region"]
    props = schema["properties"]
    assert props["sku"] == {"type": "string", "description": "Product code"}
    assert props["quantity"] == {"type": "number"}
    assert props["gift"] == {"type": "boolean"}
    assert props["region"] == {"type": "string", "enum": ["eu", "us"]}
    assert (
        props["deliver_on"]["format"] == "date"
        and "YYYY-MM-DD" in props["deliver_on"]["description"]
    )
    assert props["call_at"]["format"] == "date-time"


def test_arguments_are_typed_and_unknown_ones_dropped() -> None:
    checked = check_arguments(
        INPUTS,
        {
            "sku": 42,
            "quantity": "3",
            "gift": "true",
            "region": "eu",
            "deliver_on": "2026-12-01",
            "call_at": "2026-12-01T10:00:00Z",
            "extra": "ignored",
        },
    )
    assert checked == {
        "sku": "42",
        "quantity": 3,
        "gift": True,
        "region": "eu",
        "deliver_on": "2026-12-01",
        "call_at": "2026-12-01T10:00:00Z",
    }


def test_bad_arguments_are_a_tool_error_naming_each() -> None:
    with pytest.raises(llm.ToolError) as caught:
        check_arguments(INPUTS, {"quantity": "lots", "region": "asia", "deliver_on": "tomorrow"})
    message = caught.value.message
    for part in (
        "sku is required",
        "quantity must be a number",
        "region must be one of eu, us",
        "deliver_on must be a date",
    ):
        assert part in message


TOOL = CustomTool(
    name="order_lookup",
    description="Look up an order",
    method="POST",
    url="https://api.example.com/orders/{{order_id}}?src={{source}}",
    headers=[KeyValue(key="Authorization", value="Bearer {{token}}")],
    query_params=[KeyValue(key="api_key", value="{{token}}"), KeyValue(key="q", value="{{note}}")],
    input_schema=[
        FieldSpec(name="order_id", required=True, type="string"),
        FieldSpec(name="note", type="string"),
        FieldSpec(name="qty", type="number"),
    ],
    body_template=(
        '{"order": "{{order_id}}", "note": "{{note}}", "qty": {{qty}}, "by": "{{agent}}"}'
    ),
)
VARIABLES = {"token": "tok-SECRET-123456", "source": "voice", "agent": "Alex"}


def test_request_is_rendered_safely() -> None:
    prepared = prepare(
        TOOL, VARIABLES, {"order_id": "../admin?x=1", "note": 'say "hi"\nnow', "qty": 2}
    )
    assert prepared.url == "https://api.example.com/orders/..%2Fadmin%3Fx%3D1?src=voice"
    assert prepared.headers["Authorization"] == "Bearer tok-SECRET-123456"
    assert prepared.headers["Content-Type"] == "application/json"
    assert prepared.params == {"api_key": "tok-SECRET-123456", "q": 'say "hi"\nnow'}
    assert json.loads(prepared.body or b"") == {
        "order": "../admin?x=1",
        "note": 'say "hi"\nnow',
        "qty": 2,
        "by": "Alex",
    }
    assert "tok-SECRET-123456" in prepared.secrets


def test_header_injection_is_refused() -> None:
    tool = TOOL.model_copy(
        update={"headers": [TOOL.headers[0].model_copy(update={"value": "{{note}}"})]}
    )
    with pytest.raises(llm.ToolError, match="header"):
        prepare(tool, VARIABLES, {"order_id": "1", "note": "x\r\nX-Evil: 1"})


def _answer(
    status: int, body: bytes, content_type: str = "application/json", truncated: bool = False
) -> Response:
    return Response(status=status, content_type=content_type, body=body, truncated=truncated)


SECRETS = ("tok-SECRET-123456",)


def test_answers_the_llm_sees() -> None:
    assert describe(_answer(200, b'{"status": "shipped"}'), SECRETS) == '{"status":"shipped"}'
    echoed = describe(_answer(200, b'{"auth": "Bearer tok-SECRET-123456"}'), SECRETS)
    assert "tok-SECRET" not in echoed and "[redacted]" in echoed
    assert describe(_answer(204, b""), SECRETS) == "Done (HTTP 204, no content)."
    assert (
        describe(_answer(200, b"plain  words\n here", "text/plain"), SECRETS) == "plain words here"
    )
    latin = Response(200, "text/plain", "café".encode("latin-1"), False, charset="iso-8859-1")
    assert describe(latin, SECRETS) == "café"


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_answer(404, b'{"error": {"message": "order not found"}}'), "HTTP 404: order not found"),
        (_answer(500, b"<html>oops</html>", "text/html"), "HTTP 500"),
        (_answer(200, b"<html><body>login</body></html>", "text/html"), "web page"),
        (_answer(200, b"\x89PNG", "image/png"), "image/png"),
        (_answer(401, b'{"message": "bad token tok-SECRET-123456"}'), "[redacted]"),
        (_answer(302, b""), "HTTP 302"),
        (_answer(200, b'{"a": 1', truncated=True), "too large (over 7 bytes)"),
        (_answer(200, b'{"a": "\xff"}'), "not readable text"),
        (_answer(200, b"ok\x00\x1b[2J", "text/plain"), "not readable text"),
        (_answer(200, b"\xc3\x28 binary", ""), "not readable text"),
        (_answer(200, b"{oops", "application/json"), "not valid JSON"),
    ],
)
def test_failed_answers_are_short_tool_errors(answer: Response, message: str) -> None:
    with pytest.raises(llm.ToolError) as caught:
        describe(answer, SECRETS)
    assert message in caught.value.message
    assert "tok-SECRET" not in caught.value.message


def test_settings_from_env() -> None:
    settings = HttpToolSettings.from_env(
        {"HTTP_TOOLS_TIMEOUT": "2.5", "HTTP_TOOLS_MAX_RESPONSE_BYTES": "100"}
    )
    assert (settings.timeout, settings.max_bytes) == (2.5, 100)
    assert HttpToolSettings.from_env({}).timeout == 10.0


def _replay_with(
    tmp_path: Path, answer: dict[str, Any], env: dict[str, str] | None = None
) -> ReplayResult:
    folder = tmp_path / "call"
    shutil.copytree(FIXTURES / "calls/order_status", folder)
    http = json.loads((folder / "http.json").read_text())
    http["answers"][0].update(answer)
    (folder / "http.json").write_text(json.dumps(http))
    return run_replay(folder, fast=True, env=env or {})


def _tool_row(result: ReplayResult) -> Any:
    rows = [r for r in result.call.report.transcript or [] if r.role == "tool"]
    assert len(rows) == 1
    return rows[0]


@pytest.mark.replay
def test_service_error_becomes_a_tool_error_and_the_call_goes_on(tmp_path: Path) -> None:
    result = _replay_with(tmp_path, {"status": 503, "json": {"error": "maintenance"}})
    row = _tool_row(result)
    assert row.tool_is_error is True
    assert row.tool_output == "The service answered HTTP 503: maintenance"
    assert result.call.report.ended_by == "user"  # the call was not dropped
    last_llm_request = result.llm_requests[1].messages[-1]
    assert last_llm_request["role"] == "tool" and "HTTP 503" in last_llm_request["content"]


@pytest.mark.replay
def test_a_hanging_service_is_cut_at_the_time_limit(tmp_path: Path) -> None:
    result = _replay_with(tmp_path, {"delay": 30}, env={"HTTP_TOOLS_TIMEOUT": "1.5"})
    row = _tool_row(result)
    assert row.tool_is_error is True
    assert row.tool_output == "The service did not answer in full within 1.5 seconds."
    event = next(e for e in result.call.report.runtime.events if e.type == "http_tool")
    assert event.detail["outcome"] == "timeout"
    assert event.detail["seconds"] == pytest.approx(1.5, abs=0.1)


@pytest.mark.replay
def test_non_json_answer(tmp_path: Path) -> None:
    result = _replay_with(tmp_path, {"text": "<html>Sign in</html>", "content_type": "text/html"})
    row = _tool_row(result)
    assert row.tool_is_error is True and "web page" in row.tool_output
