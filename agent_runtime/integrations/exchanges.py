"""The HTTP exchanges of a call, kept when the call is captured (``AGENT_CAPTURE``).

The capture sets ``EXCHANGES`` for its call; the HTTP clients of tools and integrations add
each answer they read. Only the method, the URL as requested, the status, the content type
and the body are kept: never a header.
"""

from __future__ import annotations

from contextvars import ContextVar
from dataclasses import dataclass


@dataclass(frozen=True)
class Exchange:
    """An HTTP request and the answer read."""

    method: str
    url: str
    status: int
    content_type: str
    body: bytes


EXCHANGES: ContextVar[list[Exchange] | None] = ContextVar("http_exchanges", default=None)
"""Where the running call keeps its exchanges (None: the call is not captured)."""


def note(method: str, url: str, status: int, content_type: str, body: bytes) -> None:
    """Keep an exchange if the running call is captured."""
    kept = EXCHANGES.get()
    if kept is not None:
        kept.append(Exchange(method.upper(), url, status, content_type, body))
