"""Where a worker gets a call's config: inline in the job metadata, or from the config endpoint.

The job metadata holds either the call JSON itself (any document ``loading`` accepts), or a
reference ``{"call_id": "..."}`` that is fetched from ``AGENT_CONFIG_URL`` with the bearer token
``AGENT_CONFIG_TOKEN``. Fetching has a timeout and retries connection errors, timeouts, 429 and
5xx answers with exponential backoff; any other answer fails at once.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime
from typing import Any
from urllib.parse import quote

import aiohttp

from ..errors import ConfigError, ConfigFetchError, Problem
from .loading import parse_json, spec_from_document
from .spec import CallSpec

_RETRY_STATUSES = frozenset({408, 425, 429, 500, 502, 503, 504})


@dataclass(frozen=True)
class ConfigEndpoint:
    """The HTTP endpoint that serves call configs by id."""

    url: str
    token: str | None = None
    timeout: float = 5.0
    retries: int = 3
    backoff: float = 0.5

    def url_for(self, call_id: str) -> str:
        """The URL of one call's config."""
        safe_id = quote(call_id, safe="")
        if "{call_id}" in self.url:
            return self.url.replace("{call_id}", safe_id)
        return f"{self.url.rstrip('/')}/{safe_id}"


async def fetch_document(endpoint: ConfigEndpoint, call_id: str) -> Any:
    """GET the config of ``call_id`` and decode it; raise ``ConfigFetchError`` on failure."""
    headers = {"Accept": "application/json"}
    if endpoint.token:
        headers["Authorization"] = f"Bearer {endpoint.token}"
    timeout = aiohttp.ClientTimeout(total=endpoint.timeout)
    last = "no attempt made"
    async with aiohttp.ClientSession(timeout=timeout, headers=headers) as session:
        for attempt in range(endpoint.retries + 1):
            if attempt:
                await asyncio.sleep(endpoint.backoff * 2 ** (attempt - 1))
            try:
                async with session.get(endpoint.url_for(call_id)) as response:
                    body = await response.read()
                    if response.status == 200:
                        return parse_json(body, source=f"config of call {call_id}")
                    last = f"the config endpoint answered HTTP {response.status}"
                    if response.status not in _RETRY_STATUSES:
                        break
            except TimeoutError:
                last = f"the config endpoint did not answer within {endpoint.timeout:g} s"
            except aiohttp.ClientError as err:
                last = f"the config endpoint could not be reached ({type(err).__name__})"
    raise ConfigFetchError(f"cannot load the config of call {call_id}: {last}")


def call_reference(document: Any) -> str | None:
    """The call id when the metadata is a reference ``{"call_id": ...}``, else None."""
    if (
        isinstance(document, dict)
        and "call_id" in document
        and not ({"assistant", "prompt", "call"} & set(document))
    ):
        call_id = document["call_id"]
        if not isinstance(call_id, str) or not call_id:
            raise ConfigError([Problem("$.call_id", "must be a non-empty string")], source="job")
        return call_id
    return None


async def load_job_metadata(
    metadata: str, endpoint: ConfigEndpoint | None, *, now: datetime | None = None
) -> CallSpec:
    """Resolve the config of a job from its metadata, fetching it when it is a reference."""
    source = "job metadata"
    if not metadata.strip():
        reason = 'is empty: expected the call JSON or {"call_id": "..."}'
        raise ConfigError([Problem("$", reason)], source=source)
    document = parse_json(metadata, source=source)
    call_id = call_reference(document)
    if call_id is None:
        return spec_from_document(document, source=source, now=now)
    if endpoint is None:
        reason = "is a call reference, but AGENT_CONFIG_URL is not set to fetch it"
        raise ConfigError([Problem("$.call_id", reason)], source=source)
    fetched = await fetch_document(endpoint, call_id)
    return spec_from_document(fetched, source=f"config of call {call_id}", now=now)
