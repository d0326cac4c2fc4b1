"""The Calendly access token behind an assistant's ``calendly.connection_id``.

In order: ``CALENDLY_TOKEN_<CONNECTION_ID>`` (the id upper-cased, other characters than letters
and digits as ``_``), then the platform's token endpoint ``CALENDLY_TOKEN_URL`` (``GET`` with
``?connection_id=...`` and ``Authorization: Bearer $CALENDLY_TOKEN_URL_AUTH``, answering
``{"access_token": "..."}``), then ``CALENDLY_TOKEN``. The token is never logged, shown to the
LLM or written to the report.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping
from typing import Protocol

from .api_http import NoAnswer, NotReached, request_json
from .once import ActionError

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

        Raises ``ActionError`` when the endpoint fails.
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
            raise ActionError(UNAVAILABLE, code="token_unavailable") from None
        token = answer.data.get("access_token") if isinstance(answer.data, dict) else None
        if answer.status != 200 or not isinstance(token, str) or not token:
            raise ActionError(UNAVAILABLE, code="token_unavailable")
        return token


def _env_name(connection_id: str) -> str:
    return "CALENDLY_TOKEN_" + re.sub(r"[^A-Z0-9]", "_", connection_id.upper())


def token_provider(env: Mapping[str, str], connection_id: str) -> TokenProvider | None:
    """Where this connection's token comes from; None when nothing is configured."""
    own = env.get(_env_name(connection_id))
    if own:
        return StaticToken(own)
    url = env.get("CALENDLY_TOKEN_URL")
    if url:
        auth = env.get("CALENDLY_TOKEN_URL_AUTH") or None
        return PlatformToken(url, connection_id=connection_id, auth=auth)
    shared = env.get("CALENDLY_TOKEN")
    return StaticToken(shared) if shared else None
