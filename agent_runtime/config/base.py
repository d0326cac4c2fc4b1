"""Base model of every config document, with warnings that carry their JSON path.

Validation of a config either fails with every problem listed (``ConfigError``), or succeeds and
may leave *warnings*: values the API reference tolerates in its response objects but that the
runtime cannot use as given (an unknown timestamp shape, a negative delay...). Field validators
call :func:`note` while pydantic validates; each model keeps its own notes, and
:func:`collect_warnings` walks the validated tree to give each note its full JSON path.
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import ContextVar
from typing import Any, Self

from pydantic import (
    BaseModel,
    ConfigDict,
    ModelWrapValidatorHandler,
    PrivateAttr,
    ValidationError,
    model_validator,
)

from ..errors import Problem

_NOTES: ContextVar[list[tuple[str, str]] | None] = ContextVar("_config_notes", default=None)


def note(field: str, message: str) -> None:
    """Record a warning about ``field`` of the model being validated right now."""
    notes = _NOTES.get()
    if notes is not None:
        notes.append((field, message))


class ConfigModel(BaseModel):
    """A frozen config model that ignores unknown keys with a warning and keeps its warnings."""

    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)

    _notes: list[tuple[str, str]] = PrivateAttr(default_factory=list)

    @model_validator(mode="wrap")
    @classmethod
    def _collect_notes(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, cls):
            return handler(data)
        token = _NOTES.set([])
        try:
            if isinstance(data, dict):
                data = cls._drop_nulls_and_unknowns(data)
            instance = handler(data)
            notes = _NOTES.get() or []
        finally:
            _NOTES.reset(token)
        notes.extend(instance.review())
        instance._notes = notes
        return instance

    @classmethod
    def _drop_nulls_and_unknowns(cls, data: dict[Any, Any]) -> dict[Any, Any]:
        """Warn about unknown keys, and let ``null`` mean "the default" where one exists."""
        kept: dict[Any, Any] = {}
        for key, value in data.items():
            field = cls.model_fields.get(str(key))
            if field is None:
                note(str(key), "unknown field, ignored")
                continue
            if (
                value is None
                and not field.is_required()
                and field.get_default(call_default_factory=True) is not None
            ):
                continue
            kept[key] = value
        return kept

    def review(self) -> list[tuple[str, str]]:
        """Return warnings that need several fields at once, as ``(field, message)`` pairs."""
        return []


def _walk(value: object, path: str) -> Iterable[Problem]:
    if isinstance(value, ConfigModel):
        yield from collect_warnings(value, path)
    elif isinstance(value, list | tuple):
        for i, item in enumerate(value):
            yield from _walk(item, f"{path}[{i}]")


def collect_warnings(model: ConfigModel, path: str = "$") -> list[Problem]:
    """Every warning in ``model`` and the models below it, each with its full JSON path."""
    found = [Problem(f"{path}.{field}", message) for field, message in model._notes]
    for name in type(model).model_fields:
        found.extend(_walk(getattr(model, name), f"{path}.{name}"))
    return found


_PLAIN_MESSAGES = {
    "missing": "is required",
    "string_type": "must be a string",
    "bool_type": "must be true or false",
    "bool_parsing": "must be true or false",
    "int_type": "must be an integer",
    "int_parsing": "must be an integer",
    "int_from_float": "must be a whole number",
    "float_type": "must be a number",
    "float_parsing": "must be a number",
    "list_type": "must be a list",
    "dict_type": "must be an object",
    "model_type": "must be an object",
    "model_attributes_type": "must be an object",
}


def _reason(error: dict[str, Any]) -> str:
    kind = str(error.get("type", ""))
    if kind in _PLAIN_MESSAGES:
        return _PLAIN_MESSAGES[kind]
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    if message.startswith("Input should be"):
        message = "must be" + message[len("Input should be") :]
    elif message.startswith("String should have at least 1 character"):
        message = "must not be empty"
    elif message.startswith("String should have"):
        message = "must have" + message[len("String should have") :]
    return message


def problems_from(
    error: ValidationError, *, root: str = "$", skip: frozenset[str] = frozenset()
) -> list[Problem]:
    """Turn a pydantic error into plain problems with JSON paths; input values are never shown.

    ``skip`` names location parts that are union tags rather than JSON keys.
    """
    problems: list[Problem] = []
    for item in error.errors(include_input=False, include_url=False):
        path = root
        for part in item["loc"]:
            if isinstance(part, int):
                path += f"[{part}]"
            elif part not in skip and not str(part).startswith("function-"):
                path += f".{part}"
        problems.append(Problem(path, _reason(dict(item))))
    return problems
