"""The customer's own HTTP tools (``custom_tools[]``), each offered to the LLM by its name.

The request is rendered from the tool's config with the LLM's arguments, the prompt variables
and the call's fields: values the LLM chose are percent-encoded in the URL and JSON-escaped in
the body, so an argument cannot change the path or break the JSON. Requests go through the
egress guard (no private or reserved addresses; credentials stay with their origin), with a
time limit and a response size cap; the answer is read to its end. Failures, and answers that
are not data (over the cap, unreadable, a web page), become short tool errors the LLM can act
on; header values (API keys) are never shown to the LLM or written to the report: any echo of
them in a response is redacted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any
from urllib.parse import quote

import aiohttp
from livekit.agents import RunContext, llm

from agent_runtime.config.assistant import CustomTool, FieldSpec
from agent_runtime.config.templating import as_text, render_json, render_text
from agent_runtime.errors import CallEnded, TemplateError
from agent_runtime.integrations.egress import (
    EgressRefused,
    HttpToolSettings,
    Response,
    TooManyRedirects,
    request,
)
from agent_runtime.log import logger

from .context import PluginContext

LLM_CHARS = 2_000
_SECRET_KEY = re.compile(r"key|token|secret|password|auth|signature", re.IGNORECASE)
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")
"""Control characters other than tab and line breaks: no text answer holds them."""


def parameters_schema(inputs: list[FieldSpec]) -> dict[str, Any]:
    """The JSON schema of a tool's ``input_schema``."""
    properties: dict[str, Any] = {}
    for field in inputs:
        prop: dict[str, Any]
        match field.type:
            case "number":
                prop = {"type": "number"}
            case "boolean":
                prop = {"type": "boolean"}
            case "enum":
                prop = {"type": "string", "enum": list(field.enum_options or [])}
            case "date":
                prop = {"type": "string", "format": "date"}
            case "datetime":
                prop = {"type": "string", "format": "date-time"}
            case _:
                prop = {"type": "string"}
        hint = {"date": " (YYYY-MM-DD)", "datetime": " (ISO 8601, e.g. 2026-05-01T14:30:00)"}
        description = (field.description or "") + hint.get(field.type, "")
        if description:
            prop["description"] = description.strip()
        properties[field.name] = prop
    return {
        "type": "object",
        "properties": properties,
        "required": [f.name for f in inputs if f.required],
    }


def _coerce(field: FieldSpec, value: Any) -> Any:
    """A value of the field's type, or ValueError saying what is expected."""
    match field.type:
        case "number":
            if isinstance(value, bool):
                raise ValueError("must be a number")
            if isinstance(value, int | float):
                return value
            number = float(str(value))
            return int(number) if number.is_integer() else number
        case "boolean":
            if isinstance(value, bool):
                return value
            if str(value).lower() in ("true", "false"):
                return str(value).lower() == "true"
            raise ValueError("must be true or false")
        case "enum":
            if str(value) not in (field.enum_options or []):
                raise ValueError(f"must be one of {', '.join(field.enum_options or [])}")
            return str(value)
        case "date":
            return date.fromisoformat(str(value)).isoformat()
        case "datetime":
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
            return str(value)
        case _:
            if isinstance(value, dict | list):
                raise ValueError("must be text")
            return as_text(value)


def check_arguments(inputs: list[FieldSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    """The LLM's arguments, typed as declared; unknown ones are dropped.

    Raises ``llm.ToolError`` naming every missing or malformed argument.
    """
    problems: list[str] = []
    checked: dict[str, Any] = {}
    for field in inputs:
        value = raw.get(field.name)
        if value is None or value == "":
            if field.required:
                problems.append(f"{field.name} is required")
            continue
        try:
            checked[field.name] = _coerce(field, value)
        except ValueError as err:
            reason = str(err) if str(err).startswith("must") else f"must be a {field.type}"
            problems.append(f"{field.name} {reason}")
    if problems:
        raise llm.ToolError("Invalid arguments: " + "; ".join(problems) + ".")
    return checked


@dataclass(frozen=True)
class PreparedRequest:
    """A rendered request and the values that must never be shown."""

    method: str
    url: str
    params: dict[str, str]
    headers: dict[str, str]
    body: bytes | None
    secrets: tuple[str, ...]


def prepare(
    tool: CustomTool, variables: Mapping[str, Any], arguments: Mapping[str, Any]
) -> PreparedRequest:
    """Render ``tool``'s request; raises ``llm.ToolError`` if it cannot be built."""
    values = {**variables, **arguments}
    url_values = {
        **variables,
        **{k: quote(as_text(v), safe="") for k, v in arguments.items()},
    }
    url = render_text(tool.url, url_values).text
    params = {p.key: render_text(p.value, values).text for p in tool.query_params}
    headers: dict[str, str] = {}
    for header in tool.headers:
        value = render_text(header.value, values).text
        if "\r" in value or "\n" in value:
            raise llm.ToolError(f"The {header.key} header cannot be built for this request.")
        headers[header.key] = value
    body: bytes | None = None
    if tool.body_template and tool.method in _BODY_METHODS:
        try:
            body = render_json(tool.body_template, values).text.encode()
        except TemplateError:
            raise llm.ToolError("The request body could not be built.") from None
        if not any(k.lower() == "content-type" for k in headers):
            headers["Content-Type"] = "application/json"
    secrets = [v for v in headers.values() if len(v) >= 6]
    secrets += [v for k, v in params.items() if _SECRET_KEY.search(k) and len(v) >= 6]
    secrets += [token for v in headers.values() for token in v.split() if len(token) >= 6]
    return PreparedRequest(
        method=tool.method,
        url=url,
        params=params,
        headers=headers,
        body=body,
        secrets=tuple(sorted(set(secrets), key=len, reverse=True)),
    )


def redact(text: str, secrets: tuple[str, ...]) -> str:
    """``text`` with every secret replaced by ``[redacted]``."""
    for secret in secrets:
        text = text.replace(secret, "[redacted]")
    return text


def _clip(text: str, limit: int) -> str:
    text = " ".join(text.split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _error_message(data: Any) -> str | None:
    if isinstance(data, dict):
        for key in ("message", "error", "detail", "title"):
            value = data.get(key)
            if isinstance(value, str):
                return value
            if isinstance(value, dict):
                nested = _error_message(value)
                if nested:
                    return nested
    return None


def _readable(response: Response) -> str | None:
    """The body as text, or None when it is not readable (bad encoding, control bytes)."""
    try:
        text = response.body.decode(response.charset or "utf-8")
    except (UnicodeDecodeError, LookupError):
        return None
    return None if _CONTROL.search(text) else text


def _json(text: str | None, declared: bool) -> tuple[bool, Any]:
    """Whether ``text`` is JSON (declared, or looking like it), and its data."""
    if text is None or not (declared or text[:1] in ("{", "[")):
        return False, None
    try:
        return True, json.loads(text)
    except json.JSONDecodeError:
        return False, None


def _text(content_type: str, text: str | None) -> str:
    """``text``, an answer that is not JSON; raises ``llm.ToolError`` when it is not data."""
    textual = not content_type or content_type.startswith("text/") or "json" in content_type
    if not textual:
        raise llm.ToolError(f"The service answered with {content_type}, not data.")
    if text is None:
        raise llm.ToolError("The service's answer was not readable text.")
    if "json" in content_type:
        raise llm.ToolError("The service's answer was not valid JSON.")
    if "html" in content_type or text.lstrip()[:1] == "<":
        raise llm.ToolError("The service answered with a web page, not data.")
    return text


def describe(response: Response, secrets: tuple[str, ...]) -> str:
    """What the LLM is told of ``response``; raises ``llm.ToolError`` when it is no answer.

    An error status, an answer over the size cap, one that is not readable text, and one that
    is not data (a web page, an image, JSON that does not parse) are tool errors.
    """
    text = _readable(response)
    is_json, data = _json(text, "json" in response.content_type)
    if response.status >= 300:
        message = _error_message(data) if is_json else None
        detail = f": {_clip(redact(message, secrets), 200)}" if message else ""
        raise llm.ToolError(f"The service answered HTTP {response.status}{detail}")
    if response.truncated:
        size = len(response.body)
        raise llm.ToolError(f"The service's answer was too large (over {size:,} bytes).")
    if not response.body.strip():
        return f"Done (HTTP {response.status}, no content)."
    if is_json:
        compact = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
        return _clip(redact(compact, secrets), LLM_CHARS)
    return _clip(redact(_text(response.content_type, text), secrets), LLM_CHARS)


def _build(tool: CustomTool, ctx: PluginContext, settings: HttpToolSettings) -> llm.Tool:
    variables: dict[str, Any] = {**ctx.spec.variables, "call_id": ctx.spec.call.id}

    async def handler(raw_arguments: dict[str, object], context: RunContext) -> str:
        arguments = check_arguments(tool.input_schema, raw_arguments)
        prepared = prepare(tool, variables, arguments)
        started = time.perf_counter()
        outcome = "failed"
        try:
            response = await ctx.control.until_ended(
                request(
                    prepared.method,
                    prepared.url,
                    policy=settings.policy,
                    time_limit=settings.timeout,
                    max_bytes=settings.max_bytes,
                    headers=prepared.headers,
                    params=prepared.params,
                    data=prepared.body,
                )
            )
        except CallEnded:
            outcome = "call_ended"
            raise llm.ToolError("The call has ended.") from None
        except EgressRefused:
            outcome = "refused"
            raise llm.ToolError("This tool's address is not allowed.") from None
        except TooManyRedirects:
            outcome = "redirects"
            raise llm.ToolError("The service redirected too many times.") from None
        except TimeoutError:
            outcome = "timeout"
            raise llm.ToolError(
                f"The service did not answer in full within {settings.timeout:g} seconds."
            ) from None
        except (aiohttp.ClientPayloadError, aiohttp.ClientResponseError):
            outcome = "broken"
            raise llm.ToolError("The service's answer broke off or was not valid HTTP.") from None
        except aiohttp.ClientError:
            outcome = "unreachable"
            raise llm.ToolError("The service could not be reached.") from None
        else:
            outcome = str(response.status)
        finally:
            elapsed = round(time.perf_counter() - started, 3)
            ctx.control.event("http_tool", tool=tool.name, outcome=outcome, seconds=elapsed)
            logger.debug("http tool %s: %s in %.3f s", tool.name, outcome, elapsed)
        return describe(response, prepared.secrets)

    schema = {
        "name": tool.name,
        "description": tool.description,
        "parameters": parameters_schema(tool.input_schema),
    }
    return llm.function_tool(handler, raw_schema=schema)


def tools(ctx: PluginContext) -> list[llm.Tool | llm.Toolset]:
    """One tool per usable ``custom_tools[]`` entry (unusable ones were warned about)."""
    settings = ctx.integrations.http_tools
    return [
        _build(tool, ctx, settings)
        for tool in ctx.spec.assistant.custom_tools
        if tool.unusable_reason() is None
    ]
