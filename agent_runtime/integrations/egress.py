"""Outbound HTTP for tools, guarded against server-side request forgery.

A request may not reach loopback, private, link-local (cloud metadata included), carrier-grade
NAT, multicast or reserved addresses. The guard decides on the address that will be connected:
a URL is parsed as the HTTP client parses it and its host normalised (IDNA mapping, every
numeric IPv4 form, IPv6 carrying IPv4), the request is sent to that normalised host, a literal
address is judged at once and a name on the addresses DNS returns; the socket factory then
refuses any address the guard did not judge. Redirects are followed by hand, each one checked,
and the caller's headers (credentials) are dropped when a redirect changes the origin. Cookies
are never kept. ``allow`` lets named hosts or networks through (local development, tests);
``rewrites`` sends one origin to another (replay points recorded services at a local server).
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Annotated, Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
from aiohappyeyeballs import AddrInfoType
from aiohttp.abc import AbstractResolver, ResolveResult
from aiohttp.resolver import DefaultResolver
from pydantic import BeforeValidator, Field
from yarl import URL

from ..config.fields import IPAddress, forbidden_address, normalize_host
from ..settings import EnvModel
from . import exchanges

DEFAULT_TIMEOUT = 10.0
DEFAULT_MAX_BYTES = 64_000
_REDIRECTS = frozenset({301, 302, 303, 307, 308})
MAX_REDIRECTS = 3


class EgressRefused(Exception):
    """The destination is not allowed (a private or reserved address, or not http(s))."""


class TooManyRedirects(Exception):
    """The service redirected more than ``MAX_REDIRECTS`` times (a loop, usually)."""


@dataclass(frozen=True)
class EgressPolicy:
    """Where outbound requests may go."""

    allow: frozenset[str] = frozenset()
    """Hosts, IPs or networks (CIDR) let through although private."""
    rewrites: Mapping[str, str] = field(default_factory=dict)
    """Origin to origin, e.g. ``https://api.example.com`` -> ``http://127.0.0.1:8080``."""

    def allows(self, host: str, address: str) -> bool:
        """True when ``host`` (resolved to ``address``) may be reached."""
        named = {entry.lower().rstrip(".") for entry in self.allow}
        if host.lower() in named or address in self.allow:
            return True
        ip = ipaddress.ip_address(address)
        for entry in self.allow:
            try:
                if ip in ipaddress.ip_network(entry, strict=False):
                    return True
            except ValueError:
                continue
        return not forbidden_address(ip)

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


def _http_url(url: str) -> URL:
    """``url`` parsed as aiohttp parses it; refused unless an absolute http(s) URL."""
    try:
        parsed = URL(url)
    except ValueError:
        raise EgressRefused("not a valid URL") from None
    if parsed.scheme not in ("http", "https") or not parsed.raw_host:
        raise EgressRefused("only absolute http(s) URLs are allowed")
    return parsed


class _Gate:
    """Where one exchange may connect: the addresses it judged allowed, and only those."""

    def __init__(self, policy: EgressPolicy) -> None:
        self._policy = policy
        self._admitted: set[IPAddress] = set()

    def destination(self, url: str) -> URL:
        """``url`` rewritten, parsed as aiohttp parses it, with its host normalised.

        A literal address is judged now; a name is judged on what it resolves to.
        """
        parsed = _http_url(self._policy.rewrite(url))
        try:
            host = normalize_host(parsed.raw_host or "")
        except ValueError as err:
            raise EgressRefused(str(err)) from None
        if not isinstance(host, str) and not self.admits(str(host), host):
            raise EgressRefused(f"{host} is a private or reserved address")
        return parsed.with_host(str(host))

    def admits(self, host: str, address: IPAddress) -> bool:
        """True, and ``address`` may be connected, when ``host`` at ``address`` is allowed."""
        if not self._policy.allows(host, str(address)):
            return False
        self._admitted.add(address)
        return True

    def open_socket(self, addr_info: AddrInfoType) -> socket.socket:
        """A socket for ``addr_info``; refused unless its address was admitted."""
        family, kind, proto, _, sockaddr = addr_info
        if ipaddress.ip_address(sockaddr[0]) not in self._admitted:
            raise EgressRefused(f"{sockaddr[0]} was not judged by the egress guard")
        return socket.socket(family, kind, proto)


class _GuardedResolver(AbstractResolver):
    def __init__(self, gate: _Gate, inner: AbstractResolver) -> None:
        self._gate = gate
        self._inner = inner

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        found = await self._inner.resolve(host, port, family)
        allowed = [r for r in found if self._gate.admits(host, ipaddress.ip_address(r["host"]))]
        if not allowed:
            raise EgressRefused(f"{host} resolves to a private or reserved address")
        return allowed

    async def close(self) -> None:
        await self._inner.close()


def _origin(url: URL) -> tuple[str, str | None, int | None]:
    return url.scheme, url.raw_host, url.port


@dataclass(frozen=True)
class _Hop:
    """One request of an exchange; a redirect makes the next one."""

    method: str
    url: str
    headers: Mapping[str, str]
    params: Mapping[str, str] | None
    data: bytes | None

    def options(self, destination: URL) -> dict[str, Any]:
        """The arguments of ``ClientSession.request`` for this hop, sent to ``destination``."""
        return {
            "method": self.method,
            "url": destination,
            "headers": dict(self.headers),
            "params": dict(self.params) if self.params else None,
            "data": self.data,
            "allow_redirects": False,
        }

    def redirected(self, status: int, location: str) -> _Hop:
        """The hop a redirect to ``location`` asks for; credentials stay with their origin."""
        try:
            target = str(URL(self.url).join(URL(location)))
        except ValueError:
            raise EgressRefused("the redirect's location is not a valid URL") from None
        here, there = _http_url(self.url), _http_url(target)
        method, data = self.method, self.data
        if status == 303 or (status in (301, 302) and method == "POST"):
            method, data = "GET", None
        headers = self.headers
        if _origin(there) != _origin(here):
            there = there.with_user(None)
            headers = {
                k: v for k, v in headers.items() if k.lower() == "content-type" and data is not None
            }
        return _Hop(method, str(there), headers, None, data)


@dataclass(frozen=True)
class Response:
    """An HTTP answer, with its body read to the end or up to the size cap."""

    status: int
    content_type: str
    body: bytes
    truncated: bool
    """The answer was longer than the cap: ``body`` holds its first bytes only."""
    charset: str | None = None
    retry_after: float | None = None
    """The ``Retry-After`` delay the service asked for, in seconds, when it gave a number."""


async def _read(answer: aiohttp.ClientResponse, max_bytes: int) -> Response:
    """``answer`` read to its end, or until it passes ``max_bytes``."""
    body = bytearray()
    while len(body) <= max_bytes and (
        chunk := await answer.content.read(max_bytes + 1 - len(body))
    ):
        body += chunk
    return Response(
        status=answer.status,
        content_type=answer.content_type,
        body=bytes(body[:max_bytes]),
        truncated=len(body) > max_bytes,
        charset=answer.charset,
        retry_after=_seconds(answer.headers.get("Retry-After")),
    )


def _seconds(value: str | None) -> float | None:
    try:
        return max(0.0, float(value)) if value is not None else None
    except ValueError:
        return None


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
    resolver: AbstractResolver | None = None,
) -> Response:
    """Send a request under ``policy``; follow up to ``MAX_REDIRECTS`` redirects, each checked.

    The answer is read to its end or just past ``max_bytes`` (then ``truncated``). Names are
    looked up with ``resolver`` (the system's by default). Raises ``EgressRefused``,
    ``TooManyRedirects``, ``TimeoutError`` (the whole exchange, redirects and the answer's
    body included, must finish within ``time_limit`` seconds) or ``aiohttp.ClientError``.
    """
    gate = _Gate(policy)
    connector = aiohttp.TCPConnector(
        resolver=_GuardedResolver(gate, resolver or DefaultResolver()),
        use_dns_cache=False,
        socket_factory=gate.open_socket,
    )
    session = aiohttp.ClientSession(connector=connector, cookie_jar=aiohttp.DummyCookieJar())
    hop = _Hop(method, url, dict(headers or {}), params, data)
    async with session, asyncio.timeout(time_limit):
        for _ in range(MAX_REDIRECTS + 1):
            async with session.request(**hop.options(gate.destination(hop.url))) as answer:
                location = answer.headers.get("Location")
                if answer.status not in _REDIRECTS or not location:
                    read = await _read(answer, max_bytes)
                    exchanges.note(method, url, read.status, read.content_type, read.body)
                    return read
                hop = hop.redirected(answer.status, location)
    raise TooManyRedirects(f"more than {MAX_REDIRECTS} redirects")
