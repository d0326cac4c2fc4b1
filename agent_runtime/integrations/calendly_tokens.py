"""The Calendly access token behind an assistant's ``calendly.connection_id``.

The sources and their order are those of ``CalendlySettings``. The platform's endpoint is asked
with ``GET ?connection_id=...`` and ``Authorization: Bearer $CALENDLY_TOKEN_URL_AUTH`` and
answers ``{"access_token": "..."}``. The token is never logged, shown to the LLM or written to
the report.
"""

from __future__ import annotations

import asyncio
from typing import Protocol

from ..errors import NoAnswer, NotReached, ToolError
from .api_http import request_json
from .calendly_settings import CalendlySettings

UNAVAILABLE = "The calendar connection is unavailable right now."


class TokenProvider(Protocol):
    """Gives the access token of one Calendly connection."""

    async def token(self, *, refresh: bool = False) -> str:
        """The token; ``refresh`` asks for a new one (the last one was refused)."""
        ...


class StaticToken:
    """A token set in the environment."""

    def __init__(self, token: str) -> None:
        self._token = token

    async def token(self, *, refresh: bool = False) -> str:
        """The token (the same one when asked to refresh)."""
        return self._token


class PlatformToken:
    """A token fetched from the platform's endpoint, kept for the call."""

    def __init__(
        self, url: str, *, connection_id: str, auth: str | None, timeout: float = 5.0
    ) -> None:
        self._url = url
        self._connection_id = connection_id
        self._auth = auth
        self._timeout = timeout
        self._token: str | None = None
        self._lock = asyncio.Lock()

    async def token(self, *, refresh: bool = False) -> str:
        """The cached token, fetched on first use or when ``refresh`` is asked.

        Raises ``ToolError`` when the endpoint fails.
        """
        async with self._lock:
            if self._token is None or refresh:
                self._token = await self._fetch()
            return self._token

    async def _fetch(self) -> str:
        headers = {"Authorization": f"Bearer {self._auth}"} if self._auth else {}
        try:
            answer = await request_json(
                "GET",
                self._url,
                time_limit=self._timeout,
                params={"connection_id": self._connection_id},
                headers=headers,
            )
        except (NotReached, NoAnswer):
            raise ToolError(UNAVAILABLE, code="token_unavailable") from None
        token = answer.data.get("access_token") if isinstance(answer.data, dict) else None
        if answer.status != 200 or not isinstance(token, str) or not token:
            raise ToolError(UNAVAILABLE, code="token_unavailable")
        return token


def token_provider(settings: CalendlySettings, connection_id: str) -> TokenProvider | None:
    """Where this connection's token comes from; None when nothing is configured."""
    own = settings.connection_token(connection_id)
    if own:
        return StaticToken(own)
    if settings.token_url:
        auth = settings.token_url_auth.get_secret_value() if settings.token_url_auth else None
        return PlatformToken(settings.token_url, connection_id=connection_id, auth=auth)
    return StaticToken(settings.token.get_secret_value()) if settings.token else None
