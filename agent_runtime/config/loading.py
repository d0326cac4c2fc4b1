"""Load a call config from a JSON document or a file.

Accepted documents: a call object, ``{"call": {...}}`` as the API returns it, an assistant
object, or ``{"assistant": {...}}``. An assistant alone becomes a local outbound call with no
phone numbers (for ``check-config`` and the console). Every failure is a ``ConfigError`` listing
each problem with its JSON path; secrets and input values are never echoed.
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from ..errors import ConfigError, Problem
from .base import problems_from
from .call import CallConfig
from .llm import LLM_MODEL_TYPES
from .spec import CallSpec, build_call_spec

MAX_DEPTH = 64
"""Deepest nesting of objects and arrays accepted; real configs stay under 15 levels."""

MAX_NUMBER_DIGITS = 100
"""Most digits a number may have; real configs need 20 at most."""

# A string (to its end when unterminated, which keeps the scan linear) or a bracket.
_STRING_OR_BRACKET = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"?|[\[\]{}]', re.DOTALL)


@dataclass(frozen=True)
class _LongNumber:
    """Stands, while decoding, for a number with too many digits."""


def parse_json(text: str | bytes, *, source: str) -> Any:
    """Decode JSON, or raise a ``ConfigError`` that says where the syntax breaks.

    Nesting deeper than ``MAX_DEPTH`` and numbers longer than ``MAX_NUMBER_DIGITS`` digits are
    refused before they can exhaust the stack or Python's integer conversion.
    """
    try:
        if isinstance(text, bytes):
            text = text.decode(json.detect_encoding(text), "surrogatepass")
    except UnicodeDecodeError:
        raise ConfigError([Problem("$", "is not UTF-8 text")], source=source) from None
    if _depth(text) > MAX_DEPTH:
        problem = Problem("$", f"nesting is deeper than {MAX_DEPTH} levels")
        raise ConfigError([problem], source=source)
    try:
        data = json.loads(text, parse_int=_number(int), parse_float=_number(float))
    except json.JSONDecodeError as err:
        problem = Problem("$", f"is not valid JSON: {err.msg} (line {err.lineno}, col {err.colno})")
        raise ConfigError([problem], source=source) from None
    reason = f"number has more than {MAX_NUMBER_DIGITS} digits"
    problems = [Problem(path, reason) for path in _long_numbers(data)]
    if problems:
        raise ConfigError(problems, source=source)
    return data


def _depth(text: str) -> int:
    """The deepest nesting of brackets outside strings, found without recursion."""
    depth = deepest = 0
    for match in _STRING_OR_BRACKET.finditer(text):
        token = match.group()
        if token in ("[", "{"):
            depth += 1
            deepest = max(deepest, depth)
        elif token in ("]", "}"):
            depth -= 1
    return deepest


def _number(convert: Callable[[str], Any]) -> Callable[[str], Any]:
    """A ``json.loads`` number hook that marks a literal with too many digits."""

    def parse(literal: str) -> Any:
        if sum(char.isdigit() for char in literal) > MAX_NUMBER_DIGITS:
            return _LongNumber()
        return convert(literal)

    return parse


def _long_numbers(data: Any) -> list[str]:
    """The JSON paths of the ``_LongNumber`` markers in ``data``, found without recursion."""
    found: list[str] = []
    pending: list[tuple[str, Any]] = [("$", data)]
    while pending:
        path, value = pending.pop()
        if isinstance(value, _LongNumber):
            found.append(path)
        elif isinstance(value, dict):
            pending.extend((f"{path}.{key}", item) for key, item in value.items())
        elif isinstance(value, list):
            pending.extend((f"{path}[{index}]", item) for index, item in enumerate(value))
    return sorted(found)


@dataclass(frozen=True)
class _Located:
    """Where the call object is in a document, or where the lone assistant is."""

    obj: dict[str, Any]
    path: str
    is_assistant: bool

    def repath(self, path: str) -> str:
        """Map a path relative to the (possibly synthesised) call to the document's path."""
        if self.is_assistant:
            return self.path + path.removeprefix("$.assistant")
        return self.path + path.removeprefix("$")


def _locate(data: Any, path: str = "$") -> _Located:
    if not isinstance(data, dict):
        raise ConfigError([Problem(path, "must be a JSON object (a call or an assistant)")])
    if set(data) == {"call"}:
        return _locate(data["call"], f"{path}.call")
    if set(data) == {"assistant"}:
        if not isinstance(data["assistant"], dict):
            raise ConfigError([Problem(f"{path}.assistant", "must be an object")])
        return _Located(data["assistant"], f"{path}.assistant", True)
    if "assistant" in data:
        return _Located(data, path, False)
    if "prompt" in data:
        return _Located(data, path, True)
    reason = "is neither a call (no 'assistant') nor an assistant (no 'prompt')"
    raise ConfigError([Problem(path, reason)])


def spec_from_document(
    data: Any, *, source: str = "config", now: datetime | None = None
) -> CallSpec:
    """Validate a decoded document and resolve it into a ``CallSpec``."""
    try:
        located = _locate(data)
    except ConfigError as err:
        raise ConfigError(err.problems, source=source) from None
    obj = located.obj
    if located.is_assistant:
        obj = {"id": f"local-{uuid.uuid4().hex[:12]}", "direction": "outbound", "assistant": obj}
    try:
        call = CallConfig.model_validate(obj)
    except ValidationError as err:
        problems = [
            Problem(located.repath(p.path), p.reason)
            for p in problems_from(err, skip=LLM_MODEL_TYPES)
        ]
        raise ConfigError(problems, source=source) from None
    spec = build_call_spec(call, now=now, assistant_only=located.is_assistant)
    warnings = tuple(Problem(located.repath(p.path), p.reason) for p in spec.warnings)
    return replace(spec, warnings=warnings)


def load_text(text: str | bytes, *, source: str, now: datetime | None = None) -> CallSpec:
    """Decode, validate and resolve a JSON config document."""
    return spec_from_document(parse_json(text, source=source), source=source, now=now)


def load_file(path: str | Path, *, now: datetime | None = None) -> CallSpec:
    """Load and resolve a call or assistant JSON file."""
    file = Path(path)
    try:
        text = file.read_bytes()
    except OSError as err:
        problem = Problem("$", f"cannot be read ({err.strerror})")
        raise ConfigError([problem], source=str(file)) from None
    return load_text(text, source=str(file), now=now)
