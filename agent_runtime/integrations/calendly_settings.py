"""Calendly settings: where the API is, its limits, and the access tokens of the connections.

A connection's token comes, in order, from ``CALENDLY_TOKEN_<CONNECTION_ID>`` (the id
upper-cased, other characters than letters and digits as ``_``), then the platform's token
endpoint ``CALENDLY_TOKEN_URL`` (authenticated with ``CALENDLY_TOKEN_URL_AUTH``), then the shared
``CALENDLY_TOKEN``.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import Field, SecretStr, model_validator

from ..settings import EnvModel

DEFAULT_BASE_URL = "https://api.calendly.com"
TOKEN_PREFIX = "CALENDLY_TOKEN_"
_ENDPOINT_VARIABLES = frozenset({"CALENDLY_TOKEN_URL", "CALENDLY_TOKEN_URL_AUTH"})


def token_variable(connection_id: str) -> str:
    """The variable that holds the token of ``connection_id``."""
    return TOKEN_PREFIX + re.sub(r"[^A-Z0-9]", "_", connection_id.upper())


class CalendlySettings(EnvModel):
    """``CALENDLY_BASE_URL``, ``CALENDLY_TIMEOUT`` (s), ``CALENDLY_MAX_WINDOW_DAYS`` and tokens."""

    base_url: str = Field(DEFAULT_BASE_URL, alias="CALENDLY_BASE_URL")
    timeout: float = Field(10.0, gt=0, alias="CALENDLY_TIMEOUT")
    window_days: int = Field(7, ge=1, le=31, alias="CALENDLY_MAX_WINDOW_DAYS")
    token: SecretStr | None = Field(None, alias="CALENDLY_TOKEN")
    token_url: str | None = Field(None, alias="CALENDLY_TOKEN_URL")
    token_url_auth: SecretStr | None = Field(None, alias="CALENDLY_TOKEN_URL_AUTH")
    connection_tokens: dict[str, SecretStr] = Field(default_factory=dict)
    """Tokens by variable name (``CALENDLY_TOKEN_<ID>``)."""

    @model_validator(mode="before")
    @classmethod
    def _collect_connection_tokens(cls, data: Any) -> Any:
        if isinstance(data, dict) and "connection_tokens" not in data:
            tokens = {
                name: value
                for name, value in data.items()
                if str(name).startswith(TOKEN_PREFIX) and name not in _ENDPOINT_VARIABLES
            }
            data = {**data, "connection_tokens": tokens}
        return data

    def connection_token(self, connection_id: str) -> str | None:
        """The token set for ``connection_id`` itself, if any."""
        token = self.connection_tokens.get(token_variable(connection_id))
        return token.get_secret_value() if token else None
