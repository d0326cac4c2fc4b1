"""Outbound HTTP for tools, guarded against server-side request forgery.

A request may not reach loopback, private, link-local (cloud metadata included), carrier-grade
NAT, multicast or reserved addresses. The check runs on the addresses DNS returns (so a name
that resolves to 10.0.0.5 is refused), on IP literals, and again on every redirect, which are
followed by hand. ``allow`` lets named hosts or networks through (local development, tests).
``rewrites`` sends one origin to another (replay points recorded services at a local server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urljoin, urlsplit, urlunsplit

import aiohttp
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import BeforeValidator, Field

from ..settings import EnvModel

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 64_000
_CGNAT = ipaddress.ip_network("100.64.0.0/10")
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


class EgressRefused(Exception):
    """The destination is not allowed (a private or reserved address, or not http(s))."""


def forbidden_address(address: str) -> bool:
    """True for addresses a tool must not reach: loopback, private, link-local, CGNAT..."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_loopback
        or ip.is_private
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
        or (isinstance(ip, ipaddress.IPv4Address) and ip in _CGNAT)
    )


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound requests may go."""

    allow: frozenset[str] = frozenset()
    """Hosts, IPs or networks (CIDR) let through although private."""
    rewrites: Mapping[str, str] = field(default_factory=dict)
    """Origin to origin, e.g. ``https://api.example.com`` -> ``http://127.0.0.1:8080``."""

    def allows(self, host: str, address: str) -> bool:
        """True when ``host`` (resolved to ``address``) may be reached."""
        if host in self.allow or address in self.allow:
            return True
        ip = ipaddress.ip_address(address.split("%", 1)[0])
        for entry in self.allow:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return not forbidden_address(address)

    def rewrite(self, url: str) -> str:
        """``url`` with its origin replaced when a rewrite applies."""
        parts = urlsplit(url)
        origin = f"{parts.scheme}://{parts.netloc}"
        target = self.rewrites.get(origin)
        if target is None:
            return url
        new = urlsplit(target)
        return urlunsplit((new.scheme, new.netloc, parts.path, parts.query, parts.fragment))


def _comma_list(value: Any) -> Any:
    if isinstance(value, str):
        return [part.strip() for part in value.split(",") if part.strip()]
    return value


def _origin_pairs(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for pair in _comma_list(value):
        source, equals, target = pair.partition("=")
        if not equals or not source.strip() or not target.strip():
            raise ValueError(f"must be origin=origin pairs separated by commas (got {pair!r})")
        pairs[source.strip().rstrip("/")] = target.strip().rstrip("/")
    return pairs


class HttpToolSettings(EnvModel):
    """Limits of the custom HTTP tools and where they may go.

    ``HTTP_TOOLS_TIMEOUT`` (s), ``HTTP_TOOLS_MAX_RESPONSE_BYTES``, ``HTTP_TOOLS_ALLOW`` (hosts,
    IPs or CIDR networks let through although private, comma-separated) and
    ``HTTP_TOOLS_REWRITE`` (``origin=origin`` pairs, comma-separated).
    """

    timeout: float = Field(DEFAULT_TIMEOUT, gt=0, alias="HTTP_TOOLS_TIMEOUT")
    max_bytes: int = Field(DEFAULT_MAX_BYTES, gt=0, alias="HTTP_TOOLS_MAX_RESPONSE_BYTES")
    allow: Annotated[frozenset[str], BeforeValidator(_comma_list)] = Field(
        frozenset(), alias="HTTP_TOOLS_ALLOW"
    )
    rewrites: Annotated[dict[str, str], BeforeValidator(_origin_pairs)] = Field(
        default_factory=dict, alias="HTTP_TOOLS_REWRITE"
    )

    @property
    def policy(self) -> EgressPolicy:
        """The egress policy these settings describe."""
        return EgressPolicy(allow=self.allow, rewrites=self.rewrites)


class _GuardedResolver(AbstractResolver):
    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._inner = DefaultResolver()

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if self._policy.allows(host, r["host"])]
        if not allowed:
            raise EgressRefused(f"{host} resolves to a private or reserved address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _check_url(url: str, policy: EgressPolicy) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise EgressRefused("only absolute http(s) URLs are allowed")
    host = parts.hostname
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return  # a name: checked when it is resolved
    if not policy.allows(host, host):
        raise EgressRefused(f"{host} is a private or reserved address")


@dataclass(frozen=True)
class Response:
    """An HTTP answer, with its body read up to the size cap."""

    status: int
    content_type: str
    body: bytes
    truncated: bool


async def request(
    method: str,
    url: str,
    *,
    policy: EgressPolicy,
    time_limit: float,
    max_bytes: int,
    headers: Mapping[str, str] | None = None,
    params: Mapping[str, str] | None = None,
    data: bytes | None = None,
) -> Response:
    """Send a request under ``policy``; follow up to ``MAX_REDIRECTS`` redirects, each checked.

    Raises ``EgressRefused``, ``TimeoutError`` (the whole exchange, redirects included, must
    finish within ``time_limit`` seconds) or ``aiohttp.ClientError``.
    """
    connector = aiohttp.TCPConnector(resolver=_GuardedResolver(policy), use_dns_cache=False)
    async with aiohttp.ClientSession(connector=connector) as session, asyncio.timeout(time_limit):
        current = policy.rewrite(url)
        query: Mapping[str, str] | None = params
        for _ in range(MAX_REDIRECTS + 1):
            _check_url(current, policy)
            kwargs: dict[str, Any] = {"headers": dict(headers or {}), "allow_redirects": False}
            if query:
                kwargs["params"] = dict(query)
            if data is not None:
                kwargs["data"] = data
            async with session.request(method, current, **kwargs) as answer:
                location = answer.headers.get("Location")
                if answer.status in _REDIRECTS and location:
                    current = policy.rewrite(urljoin(current, location))
                    query = None
                    if answer.status == 303 or (answer.status in (301, 302) and method == "POST"):
                        method, data = "GET", None
                    continue
                body = await answer.content.read(max_bytes + 1)
                return Response(
                    status=answer.status,
                    content_type=answer.content_type,
                    body=body[:max_bytes],
                    truncated=len(body) > max_bytes,
                )
    raise EgressRefused(f"more than {MAX_REDIRECTS} redirects")
