"""``{{variable}}`` placeholders in prompts, sentences, SMS texts, tool URLs, headers and bodies.

Rendering is a single pass: a value that itself contains ``{{...}}`` is inserted as it is and
never expanded again, so a caller cannot reach other variables through a tool argument. A
placeholder with no value is reported in ``Rendered.missing`` and rendered as nothing, so the
LLM never sees a raw ``{{...}}``.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from ..errors import TemplateError

PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z_][A-Za-z0-9_.\-]*)\s*\}\}")


@dataclass(frozen=True)
class Rendered:
    """A rendered template and the placeholder names that had no value."""

    text: str
    missing: tuple[str, ...] = ()


def as_text(value: object) -> str:
    """How a variable value reads inside text: JSON for objects, lowercase booleans."""
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False)


def render_text(template: str, variables: Mapping[str, object]) -> Rendered:
    """Replace every placeholder of ``template`` with its value as text."""
    missing: list[str] = []

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1)
        if name not in variables:
            missing.append(name)
            return ""
        return as_text(variables[name])

    return Rendered(PLACEHOLDER.sub(substitute, template), tuple(dict.fromkeys(missing)))


def render_json(template: str, variables: Mapping[str, object]) -> Rendered:
    """Render a JSON body template into valid JSON, whatever the values contain.

    A placeholder inside a JSON string (``"{{name}}"``) receives the value escaped as string
    content (quotes, newlines and unicode are safe). A bare placeholder (``{"n": {{count}}}``)
    receives the value as a JSON value: a number stays a number, text becomes a string and a
    missing value becomes ``null``. Raises ``TemplateError`` if the result is not valid JSON.
    """
    out: list[str] = []
    missing: list[str] = []
    in_string = False
    i = 0
    while i < len(template):
        char = template[i]
        match = PLACEHOLDER.match(template, i) if char == "{" else None
        if match:
            name = match.group(1)
            present = name in variables
            if not present:
                missing.append(name)
            value = variables.get(name)
            if in_string:
                out.append(json.dumps(as_text(value), ensure_ascii=False)[1:-1])
            else:
                out.append(json.dumps(value, ensure_ascii=False))
            i = match.end()
            continue
        if char == "\\" and in_string:
            out.append(template[i : i + 2])
            i += 2
            continue
        if char == '"':
            in_string = not in_string
        out.append(char)
        i += 1
    text = "".join(out)
    try:
        json.loads(text)
    except json.JSONDecodeError as err:
        raise TemplateError(
            f"does not render to valid JSON ({err.msg} at character {err.pos})"
        ) from None
    return Rendered(text, tuple(dict.fromkeys(missing)))
