"""Outbound requests for tools: private and reserved addresses are refused, even via DNS or a
redirect; hosts are normalised; limits on time and size hold. Hostile URLs and redirects are in
``test_egress_hostile.py``, answers in ``test_tool_answers.py``."""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web

from agent_runtime.config.fields import forbidden_address, normalize_host
from agent_runtime.integrations.egress import (
    EgressPolicy,
    EgressRefused,
    HttpToolSettings,
    TooManyRedirects,
    request,
)
from agent_runtime.replay.local_server import serve

LOCAL = EgressPolicy(allow=frozenset({"127.0.0.1"}))


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",
        "10.1.2.3",
        "172.16.5.4",
        "192.168.1.1",
        "169.254.169.254",
        "100.64.0.1",
        "0.0.0.0",
        "224.0.0.1",
        "::1",
        "fe80::1",
        "fd00:ec2::254",
        "::ffff:127.0.0.1",
        "::127.0.0.1",  # IPv4-compatible
        "64:ff9b::a9fe:a9fe",  # NAT64 of 169.254.169.254
        "2002:a9fe:a9fe::1",  # 6to4 of 169.254.169.254
        "2002:c0a8:101::1",  # 6to4 of 192.168.1.1
        "198.18.0.1",
        "255.255.255.255",
        "ff02::1",
    ],
)
def test_forbidden_addresses(address: str) -> None:
    assert forbidden_address(address)


@pytest.mark.parametrize(
    "address", ["8.8.8.8", "93.184.216.34", "2606:4700:4700::1111", "::ffff:8.8.8.8"]
)
def test_public_addresses(address: str) -> None:
    assert not forbidden_address(address)


@pytest.mark.parametrize(
    ("host", "normalised"),
    [
        ("１６９.２５４.１６９.２５４", "169.254.169.254"),  # full-width digits
        ("127。0。0。2", "127.0.0.2"),  # ideographic full stops
        ("①②⑦.0.0.1", "127.0.0.1"),
        ("2130706433", "127.0.0.1"),
        ("0177.0.0.1", "127.0.0.1"),
        ("127.1", "127.0.0.1"),
        ("0x7f.1", "127.0.0.1"),
        ("::ffff:7f00:1", "::ffff:7f00:1"),
        ("API.Example.COM.", "api.example.com"),
        ("ⓛⓞⓒⓐⓛⓗⓞⓢⓣ", "localhost"),
        ("bücher.example", "xn--bcher-kva.example"),
    ],
)
def test_hosts_are_normalised_to_what_is_connected(host: str, normalised: str) -> None:
    assert str(normalize_host(host)) == normalised


@pytest.mark.parametrize(
    "host", ["", "exa mple.com", "127.0.0.1%09", "999.1.1.1", "-a.example", "fe80::1%25eth0"]
)
def test_invalid_hosts(host: str) -> None:
    with pytest.raises(ValueError):
        normalize_host(host)


def test_allow_list_accepts_hosts_ips_and_networks() -> None:
    policy = EgressPolicy(allow=frozenset({"db.internal", "10.0.0.0/8"}))
    assert policy.allows("db.internal", "192.168.1.10")
    assert policy.allows("other", "10.4.5.6")
    assert not policy.allows("other", "192.168.1.10")


def test_policy_from_env() -> None:
    policy = HttpToolSettings.from_env(
        {
            "HTTP_TOOLS_ALLOW": "127.0.0.1, 10.0.0.0/8",
            "HTTP_TOOLS_REWRITE": "https://api.acme.example=http://127.0.0.1:9000/",
        }
    ).policy
    assert policy.allow == frozenset({"127.0.0.1", "10.0.0.0/8"})
    assert policy.rewrite("https://api.acme.example/orders/1?x=2") == (
        "http://127.0.0.1:9000/orders/1?x=2"
    )
    assert policy.rewrite("https://other.example/a") == "https://other.example/a"


def _app() -> web.Application:
    async def ok(request: web.Request) -> web.Response:
        return web.json_response({"ok": True, "path": request.path})

    async def to_metadata(request: web.Request) -> web.Response:
        raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")

    async def to_literal(request: web.Request) -> web.Response:
        raise web.HTTPFound(f"http://127.0.0.1:{request.url.port}/ok")

    async def to_ok(request: web.Request) -> web.Response:
        raise web.HTTPSeeOther("/ok")

    async def loop_forever(request: web.Request) -> web.Response:
        raise web.HTTPFound("/loop")

    async def slow(request: web.Request) -> web.Response:
        await asyncio.sleep(5)
        return web.json_response({})

    async def big(request: web.Request) -> web.Response:
        return web.Response(body=b"x" * 100_000, content_type="text/plain")

    app = web.Application()
    for path, handler in [
        ("/ok", ok),
        ("/to-metadata", to_metadata),
        ("/to-literal", to_literal),
        ("/to-ok", to_ok),
        ("/loop", loop_forever),
        ("/slow", slow),
        ("/big", big),
    ]:
        app.router.add_route("*", path, handler)
    return app


async def _get(url: str, policy: EgressPolicy, **kw: object) -> object:
    options: dict[str, object] = {"time_limit": 2.0, "max_bytes": 10_000, **kw}
    return await request("GET", url, policy=policy, **options)  # type: ignore[arg-type]


async def test_loopback_is_refused_by_default() -> None:
    async with serve(_app()) as base:
        with pytest.raises(EgressRefused):
            await _get(f"{base}/ok", EgressPolicy())
        port = base.rsplit(":", 1)[1]
        with pytest.raises(EgressRefused, match="resolves to a private"):
            await _get(f"http://localhost:{port}/ok", EgressPolicy())


async def test_allow_listed_loopback_works() -> None:
    async with serve(_app()) as base:
        response = await request("GET", f"{base}/ok", policy=LOCAL, time_limit=2, max_bytes=1000)
    assert response.status == 200
    assert b'"ok": true' in response.body


async def test_every_redirect_is_checked() -> None:
    async with serve(_app()) as base:
        with pytest.raises(EgressRefused):
            await _get(f"{base}/to-metadata", LOCAL)
        followed = await request(
            "POST", f"{base}/to-ok", policy=LOCAL, time_limit=2, max_bytes=1000, data=b"{}"
        )
        assert followed.status == 200 and b"/ok" in followed.body
        with pytest.raises(TooManyRedirects):
            await _get(f"{base}/loop", LOCAL)


async def test_an_allowed_name_cannot_redirect_to_a_private_address() -> None:
    async with serve(_app()) as base:
        port = base.rsplit(":", 1)[1]
        only_localhost = EgressPolicy(allow=frozenset({"localhost"}))
        response = await request(
            "GET", f"http://localhost:{port}/ok", policy=only_localhost, time_limit=2, max_bytes=99
        )
        assert response.status == 200
        with pytest.raises(EgressRefused, match="127.0.0.1 is a private"):
            await _get(f"http://localhost:{port}/to-literal", only_localhost)


async def test_time_limit_and_size_cap() -> None:
    async with serve(_app()) as base:
        with pytest.raises(TimeoutError):
            await request("GET", f"{base}/slow", policy=LOCAL, time_limit=0.3, max_bytes=10)
        response = await request("GET", f"{base}/big", policy=LOCAL, time_limit=2, max_bytes=500)
    assert response.truncated and len(response.body) == 500


async def test_only_http_urls() -> None:
    with pytest.raises(EgressRefused, match="http"):
        await _get("file:///etc/passwd", LOCAL)
