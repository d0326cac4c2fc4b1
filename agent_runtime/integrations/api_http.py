"""Requests to the fixed JSON APIs of the integrations (Twilio, Calendly).

A request is retried only when it surely had no effect: the connection was never made (refused,
unknown host, connect timeout), or the service answered 429 with a short ``Retry-After``. A
request that may have reached the service (a timeout or a dropped connection after it was
sent) is never retried: the caller is told with ``NoAnswer``.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import aiohttp

from ..errors import NoAnswer, NotReached
from . import exchanges

MAX_BODY_BYTES = 256_000


@dataclass(frozen=True)
class RetryPolicy:
    """When a request that surely had no effect is tried again."""

    attempts: int = 3
    backoff: float = 0.5
    """Seconds before the second attempt after a failed connection; doubled each time."""
    max_retry_after: float = 5.0
    """The longest ``Retry-After`` waited for; a longer one is returned as the 429."""


@dataclass(frozen=True)
class ApiAnswer:
    """A service's answer: status, decoded JSON body (None if not JSON) and headers."""

    status: int
    data: Any
    headers: Mapping[str, str]

    @property
    def retry_after(self) -> float | None:
        """The ``Retry-After`` delay in seconds, when given as a number."""
        try:
            return max(0.0, float(self.headers.get("Retry-After", "")))
        except ValueError:
            return None


async def _attempt(
    method: str, url: str, *, time_limit: float, connect_limit: float, **kwargs: Any
) -> ApiAnswer:
    timeout = aiohttp.ClientTimeout(total=None, sock_connect=connect_limit)
    try:
        async with (
            aiohttp.ClientSession(timeout=timeout) as session,
            asyncio.timeout(time_limit),
            session.request(method, url, allow_redirects=False, **kwargs) as response,
        ):
            body = await response.content.read(MAX_BODY_BYTES)
            headers = response.headers.copy()
            exchanges.note(method, url, response.status, response.content_type, body)
    except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as err:
        raise NotReached(type(err).__name__) from err
    except (TimeoutError, aiohttp.ClientError) as err:
        raise NoAnswer(type(err).__name__) from err
    data: Any = None
    if body.strip()[:1] in (b"{", b"["):
        try:
            data = json.loads(body)
        except ValueError:
            data = None
    return ApiAnswer(response.status, data, headers)


async def request_json(
    method: str,
    url: str,
    *,
    time_limit: float,
    retry: RetryPolicy | None = None,
    **kwargs: Any,
) -> ApiAnswer:
    """Send a request (aiohttp keyword arguments: ``json``, ``data``, ``params``, ``auth``...).

    Any answer, error statuses included, is returned; ``time_limit`` bounds each attempt.
    Raises ``NotReached`` when no attempt reached the service, ``NoAnswer`` when one may have.
    """
    policy = retry or RetryPolicy()
    connect_limit = min(5.0, time_limit / 2)
    attempt = 1
    while True:
        try:
            answer = await _attempt(
                method, url, time_limit=time_limit, connect_limit=connect_limit, **kwargs
            )
        except NotReached:
            if attempt >= policy.attempts:
                raise
            await asyncio.sleep(policy.backoff * 2 ** (attempt - 1))
            attempt += 1
            continue
        wait = answer.retry_after
        if (
            answer.status == 429
            and wait is not None
            and wait <= policy.max_retry_after
            and attempt < policy.attempts
        ):
            await asyncio.sleep(wait)
            attempt += 1
            continue
        return answer
