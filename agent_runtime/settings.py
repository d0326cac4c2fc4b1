"""Typed settings, read from the environment once, at the edge (worker, console, replay).

Each group of settings is an ``EnvModel``: a frozen pydantic model whose fields are aliased to
their environment variables (``Field(alias="HTTP_TOOLS_TIMEOUT")``). ``from_env`` reads a
mapping (``os.environ`` at the edge, a plain dict in replay and tests); nothing below the edge
reads the environment. A value that cannot be used is a ``SettingsError`` naming the variable;
an empty variable counts as unset. Secrets are ``SecretStr``: they never show in a repr or a log.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, ValidationError

from .errors import Problem, SettingsError


class EnvModel(BaseModel):
    """A group of settings read from environment variables (its fields' aliases).

    A field whose type is another ``EnvModel`` reads the same environment: groups compose, and
    one ``SettingsError`` lists the bad variables of all of them.
    """

    model_config = ConfigDict(frozen=True, extra="ignore", populate_by_name=True)

    KEEP_EMPTY: ClassVar[frozenset[str]] = frozenset()
    """Variables whose empty value means something ("say nothing"), not "unset"."""

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Self:
        """Read the settings from ``env``; raise ``SettingsError`` naming each bad variable."""
        try:
            return cls.model_validate(cls._values(env))
        except ValidationError as err:
            raise SettingsError(_problems(err)) from None

    @classmethod
    def _values(cls, env: Mapping[str, str]) -> dict[str, Any]:
        values: dict[str, Any] = {
            name: value for name, value in env.items() if value.strip() or name in cls.KEEP_EMPTY
        }
        for name, field in cls.model_fields.items():
            group = field.annotation
            if isinstance(group, type) and issubclass(group, EnvModel):
                values[name] = group._values(env)
        return values


def _problems(error: ValidationError) -> list[Problem]:
    problems = []
    for item in error.errors(include_input=False, include_url=False):
        names = [str(part) for part in item["loc"] if isinstance(part, str) and part.isupper()]
        message = str(item["msg"]).removeprefix("Value error, ")
        if message.startswith("Input should be"):
            message = "must be" + message[len("Input should be") :]
        problems.append(Problem(names[-1] if names else "environment", message))
    return problems
