"""Hostile URLs and redirects against the real request path: ``egress.request`` and the custom
HTTP tool's handler, with local servers on 127.0.0.1 standing in for internal services.

A tripwire wraps every way a test could open a connection or look a name up (``socket``
connect, the loop's ``sock_connect`` / ``create_connection``, ``getaddrinfo``): it records each
attempt and refuses anything outside loopback. A refused case must leave no connection attempt
at all: the guard decided before the tripwire was reached. Names are resolved by ``FakeDNS``,
never by the system's resolver.
"""

from __future__ import annotations

import argparse
import asyncio
import ipaddress
import json
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web
from aiohttp.abc import AbstractResolver, ResolveResult
from livekit.agents import llm

from agent_runtime.commands import check_config
from agent_runtime.config.assistant import CustomTool
from agent_runtime.config.loading import spec_from_document
from agent_runtime.integrations.egress import EgressPolicy, EgressRefused, request
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.plugins import http_tools
from agent_runtime.plugins.context import PluginContext
from agent_runtime.replay.local_server import serve
from agent_runtime.telephony.local import LocalLine

from .test_sms import Control

# -- the tripwire ---------------------------------------------------------------------------------


def _loopback(host: Any) -> bool:
    try:
        return ipaddress.ip_address(str(host).split("%", 1)[0]).is_loopback
    except ValueError:
        return False


@dataclass
class Tripwire:
    """Every connection and lookup tests attempted; any outside loopback is refused."""

    connects: list[tuple[str, int]] = field(default_factory=list)
    lookups: list[str] = field(default_factory=list)

    def connect(self, address: Any) -> None:
        if not isinstance(address, tuple):
            return  # a Unix socket's path: it stays on the machine
        host, port = str(address[0]), int(address[1])
        self.connects.append((host, port))
        if not _loopback(host):
            raise PermissionError(f"tripwire: a test tried to connect to {host}:{port}")

    def lookup(self, host: Any) -> None:
        self.lookups.append(str(host))
        if not _loopback(host):
            raise socket.gaierror(socket.EAI_NONAME, f"tripwire: a test looked up {host}")

    def outside(self) -> list[str]:
        """The attempts that would have left the machine."""
        connects = [f"{host}:{port}" for host, port in self.connects if not _loopback(host)]
        return connects + [name for name in self.lookups if not _loopback(name)]

    @classmethod
    def install(cls, monkeypatch: pytest.MonkeyPatch) -> Tripwire:
        """Wrap the socket and event-loop entry points for the test's duration."""
        wire = cls()
        sock_connect = socket.socket.connect
        sock_connect_ex = socket.socket.connect_ex
        getaddrinfo = socket.getaddrinfo
        loop_sock_connect = asyncio.selector_events.BaseSelectorEventLoop.sock_connect
        create_connection = asyncio.base_events.BaseEventLoop.create_connection

        def connect(self: socket.socket, address: Any) -> None:
            wire.connect(address)
            sock_connect(self, address)

        def connect_ex(self: socket.socket, address: Any) -> int:
            wire.connect(address)
            return sock_connect_ex(self, address)

        def lookup(host: Any, *args: Any, **kwargs: Any) -> Any:
            wire.lookup(host)
            return getaddrinfo(host, *args, **kwargs)

        async def loop_connect(self: Any, sock: socket.socket, address: Any) -> None:
            wire.connect(address)
            await loop_sock_connect(self, sock, address)

        async def open_connection(
            self: Any, factory: Any, host: Any = None, *a: Any, **k: Any
        ) -> Any:
            if host is not None:
                wire.lookup(host)
            return await create_connection(self, factory, host, *a, **k)

        monkeypatch.setattr(socket.socket, "connect", connect)
        monkeypatch.setattr(socket.socket, "connect_ex", connect_ex)
        monkeypatch.setattr(socket, "getaddrinfo", lookup)
        monkeypatch.setattr(
            asyncio.selector_events.BaseSelectorEventLoop, "sock_connect", loop_connect
        )
        monkeypatch.setattr(asyncio.base_events.BaseEventLoop, "create_connection", open_connection)
        return wire


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tripwire]:
    wire = Tripwire.install(monkeypatch)
    yield wire
    assert wire.outside() == [], "a test tried to reach beyond loopback"


async def test_the_tripwire_refuses_everything_beyond_loopback(tripwire: Tripwire) -> None:
    with socket.socket() as sock, pytest.raises(PermissionError):
        sock.connect(("192.0.2.1", 80))
    with socket.socket() as sock:
        sock.setblocking(False)
        with pytest.raises(PermissionError):
            await asyncio.get_running_loop().sock_connect(sock, ("169.254.169.254", 80))
    with pytest.raises(socket.gaierror):
        await asyncio.get_running_loop().create_connection(asyncio.Protocol, "example.com", 80)
    assert tripwire.outside() == ["192.0.2.1:80", "169.254.169.254:80", "example.com"]
    tripwire.connects.clear()
    tripwire.lookups.clear()


# -- the outside world: DNS, an internal service, a redirecting service ---------------------------


class FakeDNS(AbstractResolver):
    """Names and their addresses, as a DNS server that the test controls would answer."""

    def __init__(self, records: dict[str, list[str]]) -> None:
        self.records = records
        self.asked: list[str] = []

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        self.asked.append(host)
        if host not in self.records:
            raise OSError(f"{host}: no such name")
        return [
            {
                "hostname": host,
                "host": address,
                "port": port,
                "family": socket.AF_INET6 if ":" in address else socket.AF_INET,
                "proto": 0,
                "flags": socket.AI_NUMERICHOST,
            }
            for address in self.records[host]
        ]

    async def close(self) -> None:
        return None


DNS = {
    "localhost": ["127.0.0.1", "::1"],
    "rebind.example": ["10.0.0.5"],
    "metadata.example": ["169.254.169.254"],
    "mixed.example": ["10.0.0.1", "fd00::1"],
    "mapped.example": ["::ffff:127.0.0.1"],
    "nat64.example": ["64:ff9b::a9fe:a9fe"],
    "sixtofour.example": ["2002:7f00:1::1"],
    "zero.example": ["0.0.0.0"],
    "127.0.0.1.nip.example": ["127.0.0.1"],
    "api.test": ["127.0.0.1"],
}


@dataclass
class Internal:
    """A service on loopback that a tool must not reach: it counts who got through."""

    port: int
    hits: list[str]


@pytest.fixture
async def internal() -> AsyncIterator[Internal]:
    hits: list[str] = []

    async def secret(request: web.Request) -> web.Response:
        hits.append(request.path)
        return web.json_response({"secret": "internal data"})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", secret)
    async with serve(app) as base:
        yield Internal(port=int(base.rsplit(":", 1)[1]), hits=hits)


Script = Callable[[asyncio.StreamWriter], Awaitable[None]]


class RawServer:
    """A bare TCP server on 127.0.0.1 whose answer to every request is written by ``script``
    (so a test may send any bytes, in pieces, slowly, or not HTTP at all)."""

    def __init__(self, script: Script) -> None:
        self.script = script
        self.requests: list[bytes] = []
        self._connections: list[tuple[asyncio.Task[Any], asyncio.StreamWriter]] = []
        self._server: asyncio.Server | None = None

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._connections.append((task, writer))
        try:
            self.requests.append(await reader.readuntil(b"\r\n\r\n"))
            await self.script(writer)
        except (ConnectionError, asyncio.IncompleteReadError):
            pass  # the client went away: the script stops at its next write
        finally:
            writer.close()
            with suppress(ConnectionError):
                await writer.wait_closed()

    async def __aenter__(self) -> str:
        self._server = await asyncio.start_server(self._serve, "127.0.0.1", 0)
        port = self._server.sockets[0].getsockname()[1]
        return f"http://127.0.0.1:{port}"

    async def __aexit__(self, *exc: object) -> None:
        assert self._server is not None
        self._server.close()
        for _, writer in self._connections:
            writer.transport.abort()
        await asyncio.gather(*(task for task, _ in self._connections))
        await self._server.wait_closed()


def replying(*parts: bytes, pause: float = 0.0) -> Script:
    """A script writing ``parts`` one after the other, ``pause`` seconds apart."""

    async def script(writer: asyncio.StreamWriter) -> None:
        for index, part in enumerate(parts):
            if index and pause:
                await asyncio.sleep(pause)
            writer.write(part)
            await writer.drain()

    return script


def redirect_to(location: str) -> Script:
    """A script answering a redirect to ``location``, sent as raw UTF-8 bytes."""
    head = f"HTTP/1.1 302 Found\r\nLocation: {location}\r\n"
    return replying((head + "Content-Length: 0\r\nConnection: close\r\n\r\n").encode())


# -- hostile URLs ---------------------------------------------------------------------------------

LITERAL_HOSTS = [
    "127.0.0.1:{port}",
    "１２７.０.０.１:{port}",  # full-width digits
    "127。0。0。1:{port}",  # ideographic full stops
    "127．0．0．1:{port}",  # full-width full stops
    "127｡0｡0｡1:{port}",  # half-width ideographic full stops
    "①②⑦.0.0.1:{port}",  # circled digits
    "１６９.２５４.１６９.２５４/latest/meta-data/",
    "127。0。0。2/",
    "2130706433:{port}",  # 127.0.0.1 as one number
    "0177.0.0.1:{port}",  # octal
    "127.1:{port}",  # short form
    "0x7f.1:{port}",  # hexadecimal, short
    "0x7f000001:{port}",
    "017700000001:{port}",
    "0x7f.0.0.1:{port}",
    "127.0.0.1.:{port}",  # trailing dot
    "0:{port}",  # 0.0.0.0 reaches the local host on Linux
    "0.0.0.0:{port}",
    "[::1]:{port}",
    "[::]:{port}",
    "[::ffff:127.0.0.1]:{port}",  # IPv4-mapped
    "[::ffff:7f00:1]:{port}",
    "[::ffff:169.254.169.254]/latest/meta-data/",
    "[::127.0.0.1]:{port}",  # IPv4-compatible
    "[64:ff9b::a9fe:a9fe]/latest/meta-data/",  # NAT64
    "[64:ff9b::7f00:1]:{port}",
    "[2002:a9fe:a9fe::]/latest/meta-data/",  # 6to4
    "[2002:7f00:1::1]:{port}",
    "[fe80::1]/",
    "[fe80::1%25lo]:{port}",  # a zone
    "[fd00:ec2::254]/latest/meta-data/",  # AWS IPv6 metadata
    "10.0.0.1/",
    "172.16.0.1/",
    "192.168.0.1/",
    "100.64.0.1/",  # carrier-grade NAT
    "169.254.169.254/latest/meta-data/",
    "224.0.0.1/",
    "255.255.255.255/",
    "198.18.0.1/",
    "1\u200b27.0.0.1:{port}",  # a zero-width space
    "%31%32%37.0.0.1:{port}",  # percent-encoded digits
    "example.com\\@127.0.0.1:{port}",  # parsers disagree on the authority
    "user:pass@127.0.0.1:{port}",
    "127.0.0.1 .example/",
    "999.0.0.1/",
]
"""Hosts refused without any lookup: literal addresses, in every disguise, and broken hosts."""

NAMED_HOSTS = [
    "localhost:{port}",
    "ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:{port}",  # enclosed letters map to "localhost"
    "LOCALHOST.:{port}",
    "ｒｅｂｉｎｄ.example/",
    "rebind.example/",
    "metadata.example/latest/meta-data/",
    "mixed.example/",
    "mapped.example:{port}",
    "nat64.example/",
    "sixtofour.example:{port}",
    "zero.example:{port}",
    "127.0.0.1.nip.example:{port}",
]
"""Names that resolve (through ``FakeDNS``) to forbidden addresses only."""

OTHER_SCHEMES = ["file:///etc/passwd", "gopher://127.0.0.1:{port}/_", "ftp://127.0.0.1:{port}/"]

DIRECT = [f"http://{host}" for host in LITERAL_HOSTS + NAMED_HOSTS] + OTHER_SCHEMES


@pytest.mark.parametrize("url", DIRECT)
async def test_hostile_urls_are_refused_before_any_connection(
    url: str, internal: Internal, tripwire: Tripwire
) -> None:
    dns = FakeDNS(DNS)
    with pytest.raises(EgressRefused):
        await request(
            "GET",
            url.format(port=internal.port),
            policy=EgressPolicy(),
            time_limit=2,
            max_bytes=1000,
            resolver=dns,
        )
    assert tripwire.connects == []
    assert internal.hits == []
    assert all(name.isascii() and name == name.lower() for name in dns.asked)


@pytest.mark.parametrize(
    ("url", "name"),
    [("http://ｒｅｂｉｎｄ.example/", "rebind.example"), ("http://ⓛⓞⓒⓐⓛⓗⓞⓢⓣ:80/", "localhost")],
)
async def test_names_are_looked_up_normalised(url: str, name: str) -> None:
    dns = FakeDNS(DNS)
    with pytest.raises(EgressRefused, match="resolves to a private"):
        await request("GET", url, policy=EgressPolicy(), time_limit=2, max_bytes=10, resolver=dns)
    assert dns.asked == [name]


REDIRECTS = [
    "http://１６９.２５４.１６９.２５４/latest/meta-data/",
    "http://127。0。0。2:{port}/",
    "http://0x7f.2:{port}/",
    "http://2130706434:{port}/",
    "http://127.2:{port}/",
    "http://0:{port}/",
    "http://[::1]:{port}/",
    "http://[::ffff:169.254.169.254]/",
    "http://[64:ff9b::a9fe:a9fe]/",
    "http://[2002:a9fe:a9fe::]/",
    "//169.254.169.254/latest/meta-data/",
    "http://10.0.0.1/",
    "http://1\u200b27.0.0.2:{port}/",
    "http://%31%32%37.0.0.2:{port}/",
    "file:///etc/passwd",
    "gopher://127.0.0.1:{port}/_",
]
"""Where a service allowed to be reached (127.0.0.1) redirects the tool to."""

NAMED_REDIRECTS = ["http://ｒｅｂｉｎｄ.example/", "http://metadata.example/"]

LOCAL = EgressPolicy(allow=frozenset({"127.0.0.1"}))


@pytest.mark.parametrize("location", REDIRECTS + NAMED_REDIRECTS)
async def test_hostile_redirects_are_refused_before_any_connection(
    location: str, internal: Internal, tripwire: Tripwire
) -> None:
    server = RawServer(redirect_to(location.format(port=internal.port)))
    async with server as base:
        with pytest.raises(EgressRefused):
            await request(
                "GET",
                f"{base}/go",
                policy=LOCAL,
                time_limit=2,
                max_bytes=1000,
                resolver=FakeDNS(DNS),
            )
    assert set(tripwire.connects) == {("127.0.0.1", int(base.rsplit(":", 1)[1]))}
    assert len(server.requests) == 1 and internal.hits == []


# -- the same through the custom tool's handler ---------------------------------------------------


def custom_tool(
    url: str,
    env: dict[str, str],
    *,
    variables: dict[str, str] | None = None,
    headers: list[dict[str, str]] | None = None,
) -> tuple[llm.RawFunctionTool, Control]:
    spec = spec_from_document(
        {
            "id": "call_hostile",
            "direction": "inbound",
            "prompt_variables": variables or {},
            "assistant": {
                "prompt": "Help.",
                "custom_tools": [
                    {
                        "name": "lookup",
                        "description": "Look something up.",
                        "method": "GET",
                        "url": url,
                        "headers": headers or [],
                    }
                ],
            },
        }
    )
    control = Control()
    ctx = PluginContext(spec, control, LocalLine(), IntegrationSettings.from_env(env))
    (tool,) = http_tools.tools(ctx)  # the only one, usable
    assert isinstance(tool, llm.RawFunctionTool)
    return tool, control


@pytest.mark.parametrize("host", LITERAL_HOSTS)
async def test_the_tool_refuses_hostile_hosts(
    host: str, internal: Internal, tripwire: Tripwire
) -> None:
    # the host comes from a prompt variable, so the config check cannot see it
    target = host.format(port=internal.port)
    tool, control = custom_tool("http://{{target}}", {}, variables={"target": target})
    with pytest.raises(llm.ToolError) as refused:
        await tool({}, None)
    assert refused.value.message == "This tool's address is not allowed."
    assert control.of("http_tool")[0]["outcome"] == "refused"
    assert tripwire.connects == [] and internal.hits == []


@pytest.mark.parametrize("location", REDIRECTS)
async def test_the_tool_refuses_hostile_redirects(
    location: str, internal: Internal, tripwire: Tripwire
) -> None:
    async with RawServer(redirect_to(location.format(port=internal.port))) as base:
        env = {
            "HTTP_TOOLS_REWRITE": f"https://api.acme.test={base}",
            "HTTP_TOOLS_ALLOW": "127.0.0.1",
        }
        tool, _ = custom_tool("https://api.acme.test/go", env)
        with pytest.raises(llm.ToolError, match="address is not allowed"):
            await tool({}, None)
    assert set(tripwire.connects) == {("127.0.0.1", int(base.rsplit(":", 1)[1]))}
    assert internal.hits == []


# -- refused at config time -----------------------------------------------------------------------


@pytest.mark.parametrize("host", LITERAL_HOSTS)
def test_a_tool_with_a_hostile_literal_host_is_disabled(host: str) -> None:
    tool = CustomTool(
        name="lookup", description="d", method="GET", url=f"http://{host.format(port=8080)}"
    )
    reason = tool.unusable_reason()
    assert reason is not None and reason.startswith("url host")
    assert tool.review()[0][1].endswith("this tool is disabled")


@pytest.mark.parametrize(
    "url",
    [
        "https://api.example.com/orders/{{order_id}}",
        "https://{{region}}.api.example.com/x",
        "http://10.0.0.{{n}}/",  # decided when rendered
        "http://localhost:8080/",  # a name: decided on what it resolves to
        "https://api.example.com:{{port}}/x",
    ],
)
def test_names_and_placeholders_are_left_to_run_time(url: str) -> None:
    assert CustomTool(name="t", description="d", method="GET", url=url).unusable_reason() is None


def test_check_config_strict_fails_on_a_disguised_metadata_address(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    tools = [
        {"name": f"t{i}", "description": "d", "method": "GET", "url": url}
        for i, url in enumerate(["http://１６９.２５４.１６９.２５４/", "http://127。0。0。2/"])
    ]
    path = tmp_path / "assistant.json"
    path.write_text(json.dumps({"prompt": "Hi.", "custom_tools": tools}), encoding="utf-8")
    assert check_config.run(argparse.Namespace(file=str(path), strict=True)) == 1
    out = capsys.readouterr().out
    assert "host 169.254.169.254 is a private or reserved address; this tool is disabled" in out
    assert "host 127.0.0.2 is a private or reserved address; this tool is disabled" in out
    assert "custom tools: -" in out


# -- what is let through ----------------------------------------------------------------------


async def test_allowed_destinations_still_work(internal: Internal, tripwire: Tripwire) -> None:
    port = internal.port
    dns = FakeDNS(DNS)
    cases = [
        (f"http://127.0.0.1:{port}/a", LOCAL),
        (f"http://api.test:{port}/b", EgressPolicy(allow=frozenset({"api.test"}))),
        (f"http://127.0.0.1:{port}/c", EgressPolicy(allow=frozenset({"127.0.0.0/8"}))),
        (f"http://０x7f.1:{port}/d", LOCAL),  # the same address, however written
        (
            "https://api.acme.test/e",
            EgressPolicy(
                allow=frozenset({"127.0.0.1"}),
                rewrites={"https://api.acme.test": f"http://127.0.0.1:{port}"},
            ),
        ),
    ]
    for url, policy in cases:
        answer = await request(
            "GET", url, policy=policy, time_limit=2, max_bytes=1000, resolver=dns
        )
        assert answer.status == 200 and b"internal data" in answer.body
    assert internal.hits == ["/a", "/b", "/c", "/d", "/e"]
    assert dns.asked == ["api.test"]
    assert set(tripwire.connects) == {("127.0.0.1", port)}


# -- credentials stay with their origin -------------------------------------------------------


@asynccontextmanager
async def _recording(
    seen: list[tuple[str, dict[str, str]]], redirects: dict[str, str]
) -> AsyncIterator[str]:
    """A service that records each request's headers and redirects as ``redirects`` says."""

    async def handle(request: web.Request) -> web.Response:
        seen.append((f"{request.host}{request.path}", dict(request.headers)))
        location = redirects.get(request.path)
        if location:
            response = web.Response(status=307, headers={"Location": location})
            response.set_cookie("session", "cookie-SECRET")
            return response
        return web.json_response({"ok": True})

    app = web.Application()
    app.router.add_route("*", "/{tail:.*}", handle)
    async with serve(app) as base:
        yield base


CREDENTIALS = ("authorization", "x-api-key", "cookie")


async def test_credentials_stay_with_their_origin(tripwire: Tripwire) -> None:
    seen: list[tuple[str, dict[str, str]]] = []
    redirects: dict[str, str] = {"/same": "/landing"}
    async with _recording(seen, {}) as other, _recording(seen, redirects) as base:
        other_port, port = other.rsplit(":", 1)[1], base.rsplit(":", 1)[1]
        redirects["/cross"] = f"{other}/landing"
        redirects["/cross-by-name"] = f"http://api.test:{other_port}/landing"
        secrets = {
            "Authorization": "Bearer tok-SECRET",
            "X-Api-Key": "key-SECRET",
            "Cookie": "pref=cookie-SECRET",
            "Content-Type": "application/json",
        }
        policy = EgressPolicy(allow=frozenset({"127.0.0.1", "api.test"}))
        dns = FakeDNS(DNS)
        for url, headers in [
            (f"http://api.test:{port}/same", secrets),
            (f"http://api.test:{port}/cross", secrets),
            (f"http://api.test:{port}/cross-by-name", secrets),  # a cookie jar would send it
            (f"http://user:pw-SECRET@api.test:{port}/cross", {}),
        ]:
            answer = await request(
                "POST",
                url,
                policy=policy,
                time_limit=2,
                max_bytes=1000,
                headers=headers,
                data=b'{"a": 1}',
                resolver=dns,
            )
            assert answer.status == 200
    same, cross, by_name, basic = [h for where, h in seen if where.endswith("/landing")]
    assert same["Authorization"] == "Bearer tok-SECRET"  # the same origin keeps them
    assert same["X-Api-Key"] == "key-SECRET" and same["Cookie"] == "pref=cookie-SECRET"
    for headers in (cross, by_name, basic):
        assert not {k.lower() for k in headers} & set(CREDENTIALS)
        assert "SECRET" not in repr(headers)
    assert cross["Content-Type"] == "application/json"  # a 307 keeps its body and its type


async def test_the_tool_does_not_forward_its_headers_to_another_origin(tripwire: Tripwire) -> None:
    seen: list[tuple[str, dict[str, str]]] = []
    redirects: dict[str, str] = {"/same": "/landing"}
    async with _recording(seen, {}) as other, _recording(seen, redirects) as base:
        redirects["/cross"] = f"{other}/landing"
        env = {
            "HTTP_TOOLS_REWRITE": f"https://api.acme.test={base}",
            "HTTP_TOOLS_ALLOW": "127.0.0.1",
        }
        headers = [
            {"key": "Authorization", "value": "Bearer {{token}}"},
            {"key": "X-Api-Key", "value": "{{token}}"},
        ]
        for path in ("/same", "/cross"):
            tool, _ = custom_tool(
                f"https://api.acme.test{path}",
                env,
                variables={"token": "tok-SECRET-1"},
                headers=headers,
            )
            assert await tool({}, None) == '{"ok":true}'
    same, cross = [headers for where, headers in seen if where.endswith("/landing")]
    assert same["Authorization"] == "Bearer tok-SECRET-1" and same["X-Api-Key"] == "tok-SECRET-1"
    assert "tok-SECRET-1" not in repr(cross)
