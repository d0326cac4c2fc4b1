"""The runtime's error tree.

- ``RuntimeErrorBase``: every error the runtime raises on purpose.
  - ``ConfigError``: the call or assistant config is invalid; lists every problem with its JSON
    path.
  - ``ProviderConfigError``: a provider cannot be built (a missing environment variable, an
    optional plugin not installed).
  - ``ConfigFetchError``: the config endpoint could not be reached or answered an error.
"""

from __future__ import annotations

from dataclasses import dataclass


class RuntimeErrorBase(Exception):
    """Base of every error the runtime raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a config document: where it is and what is wrong, in plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


class ConfigError(RuntimeErrorBase):
    """A config document is invalid. ``problems`` lists every problem found, never a secret."""

    def __init__(self, problems: list[Problem], *, source: str = "config") -> None:
        self.problems = problems
        self.source = source
        lines = "\n".join(f"  - {p}" for p in problems)
        noun = "problem" if len(problems) == 1 else "problems"
        super().__init__(f"{source} is invalid ({len(problems)} {noun}):\n{lines}")


class ProviderConfigError(RuntimeErrorBase):
    """A provider plugin cannot be built from the config and the environment."""


class ConfigFetchError(RuntimeErrorBase):
    """The config endpoint could not be reached, or answered with an error."""
