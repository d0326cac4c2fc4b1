"""Structured output: the assistant's ``structured_output_config`` fields, read from the call.

The fields become the JSON schema of the ``save_extracted_data`` tool, every one of them
nullable: a value the call never revealed is null, never invented. The answer is checked by our
own validator (types, enum options, ISO dates, required keys present); a bad answer gets one
corrective retry that says what was wrong, and a still-bad one gives no data and a problem.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from livekit.agents import llm

from ..config.assistant import FieldSpec
from ..config.templating import PLACEHOLDER, render_text
from .llm_json import AskError, BadAnswer, ask_checked

EXTRACTION_TOOL = "save_extracted_data"
"""The tool the LLM calls with the extracted fields (recorded calls script it by this name)."""

SYSTEM = (
    "You extract data from the transcript of a finished phone call between an AI agent and a "
    "caller. Use only what the call itself reveals. A field the call did not reveal is null: "
    "never guess, infer or invent a value. Dates are YYYY-MM-DD; date-times are ISO 8601 "
    f"(2026-05-01T14:30:00). Answer by calling {EXTRACTION_TOOL}."
)
"""The instructions of every extraction request, whatever the prompt."""
DEFAULT_PROMPT = (
    "Fill in the fields from what was said in the phone call below.\n\nTranscript:\n{{transcript}}"
)
"""The prompt when the assistant sets no ``structured_output_prompt``."""

_HINTS = {"date": "YYYY-MM-DD", "datetime": "ISO 8601, e.g. 2026-05-01T14:30:00"}
_JSON_TYPES = {"number": "number", "boolean": "boolean"}
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}$")
_DATETIME = re.compile(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")


@dataclass(frozen=True)
class ExtractionResult:
    """The extracted fields, or None and the problem that prevented them.

    Attributes:
        data: Every configured field by name, null when the call did not reveal it.
        problem: Why there is no data, in a few words (no secret, no transcript).
    """

    data: dict[str, Any] | None
    problem: str | None = None


async def extract(
    model: llm.LLM,
    fields: list[FieldSpec],
    *,
    prompt: str | None,
    variables: Mapping[str, str],
    transcript: str,
    timeout: float,  # noqa: ASYNC109 - bounds each request
) -> ExtractionResult:
    """Ask the LLM for ``fields`` as the call revealed them.

    Args:
        model: The call's text LLM.
        fields: The assistant's ``structured_output_config``; none gives no data and no request.
        prompt: The assistant's ``structured_output_prompt``, or None for ``DEFAULT_PROMPT``.
        variables: ``call_direction``, ``user_phone_number``, ``agent_phone_number`` (and any
            other value the prompt may name).
        transcript: The call as text (``transcript_text``).
        timeout: Seconds each request may take.
    """
    if not fields:
        return ExtractionResult(data=None)
    try:
        data = await ask_checked(
            model,
            lambda raw: check_data(fields, raw),
            system=SYSTEM,
            user=render_prompt(prompt or DEFAULT_PROMPT, variables, transcript),
            tool_name=EXTRACTION_TOOL,
            tool_description="Saves the data the call revealed; null for what it did not.",
            schema=fields_schema(fields),
            timeout=timeout,
        )
    except AskError as err:
        return ExtractionResult(data=None, problem=str(err))
    return ExtractionResult(data=data)


def render_prompt(template: str, variables: Mapping[str, str], transcript: str) -> str:
    """``template`` rendered in one pass, with the transcript appended if it names none."""
    text = render_text(template, {**variables, "transcript": transcript}).text
    if any(match.group(1) == "transcript" for match in PLACEHOLDER.finditer(template)):
        return text
    return f"{text}\n\nTranscript:\n{transcript}"


def fields_schema(fields: list[FieldSpec]) -> dict[str, Any]:
    """The JSON schema of the fields, each nullable; required ones must be present."""
    return {
        "type": "object",
        "properties": {field.name: _property(field) for field in fields},
        "required": [field.name for field in fields if field.required],
        "additionalProperties": False,
    }


def _property(field: FieldSpec) -> dict[str, Any]:
    prop: dict[str, Any] = {"type": [_JSON_TYPES.get(field.type, "string"), "null"]}
    if field.type == "enum":
        prop["enum"] = [*(field.enum_options or []), None]
    elif field.type in ("date", "datetime"):
        prop["format"] = "date" if field.type == "date" else "date-time"
    hint = _HINTS.get(field.type)
    description = " ".join(filter(None, [field.description, hint and f"({hint})"]))
    if description:
        prop["description"] = description
    return prop


def check_data(fields: list[FieldSpec], raw: Mapping[str, Any]) -> dict[str, Any]:
    """Every field's value from the LLM's arguments, checked; unknown keys are dropped.

    A missing optional field, and a blank text, are null.

    Raises:
        BadAnswer: Naming every field whose value is wrong, or required and missing.
    """
    data: dict[str, Any] = {}
    problems: list[str] = []
    for field in fields:
        if field.name not in raw and field.required:
            problems.append(f"{field.name} is missing (null if the call did not reveal it)")
            continue
        try:
            data[field.name] = _value(field, raw.get(field.name))
        except ValueError as err:
            problems.append(f"{field.name} {err}")
    if problems:
        raise BadAnswer("; ".join(problems))
    return data


def _value(field: FieldSpec, value: Any) -> Any:
    """The value if it has the field's type, else ValueError saying what it must be."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match field.type:
        case "number":
            if isinstance(value, int) and not isinstance(value, bool):
                return value
            if isinstance(value, float) and math.isfinite(value):
                return value
            raise ValueError("must be a number or null")
        case "boolean":
            if isinstance(value, bool):
                return value
            raise ValueError("must be true, false or null")
        case "enum":
            options = field.enum_options or []
            if isinstance(value, str) and value in options:
                return value
            raise ValueError(f"must be one of {', '.join(options)}, or null")
        case "date":
            return _iso(value, _DATE, date.fromisoformat, "a date as YYYY-MM-DD")
        case "datetime":
            return _iso(value, _DATETIME, datetime.fromisoformat, "an ISO 8601 date-time")
        case _:
            if isinstance(value, str):
                return value.strip()
            raise ValueError("must be text or null")


def _iso(value: Any, shape: re.Pattern[str], parse: Callable[[str], object], what: str) -> str:
    """``value`` if it is text of ``shape`` that ``parse`` reads, else ValueError."""
    text = value.strip() if isinstance(value, str) else ""
    if shape.match(text):
        try:
            parse(text)
        except ValueError:
            pass
        else:
            return text
    raise ValueError(f"must be {what}, or null")
