"""What the LLM is told of a service's answer, at the network boundary: a bare server on
127.0.0.1 answers in pieces, drips, sends megabytes, garbage, broken HTTP or endless redirects,
and the custom tool must read the answer whole (or call it too large) and never pass off a cut
or unreadable answer as a success."""

from __future__ import annotations

import asyncio
import itertools
import json
from collections.abc import Iterator

import pytest
from livekit.agents import llm

from agent_runtime.integrations.egress import EgressPolicy, request

from .test_egress_hostile import (
    RawServer,
    Script,
    Tripwire,
    custom_tool,
    redirect_to,
    replying,
)
from .test_sms import Control

SECRET = "tok-SECRET-123456"
ANSWER = {"order": "A-104", "status": "shipped", "eta": "2026-05-02", "by": "ups"}
BODY = json.dumps(ANSWER).encode()  # 73 bytes
COMPACT = json.dumps(ANSWER, separators=(",", ":"))


@pytest.fixture(autouse=True)
def tripwire(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tripwire]:
    wire = Tripwire.install(monkeypatch)
    yield wire
    assert wire.outside() == [], "a test tried to reach beyond loopback"


def head(
    content_type: str | None = "application/json", length: int | None = None, **more: str
) -> bytes:
    """A 200 status line and headers; None sends no Content-Type, no Content-Length."""
    lines = ["HTTP/1.1 200 OK", "Connection: close"]
    if content_type is not None:
        lines.append(f"Content-Type: {content_type}")
    if length is not None:
        lines.append(f"Content-Length: {length}")
    lines += [f"{name.replace('_', '-')}: {value}" for name, value in more.items()]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def chunked(*parts: bytes) -> list[bytes]:
    """``parts`` in HTTP chunked encoding, the last chunk included."""
    return [f"{len(part):x}\r\n".encode() + part + b"\r\n" for part in parts] + [b"0\r\n\r\n"]


def answering(content_type: str | None, body: bytes) -> Script:
    """A script answering ``body`` whole, with its length."""
    return replying(head(content_type, len(body)) + body)


def dripping(body: bytes, every: float) -> Script:
    """Headers, then ``body`` one byte every ``every`` seconds."""
    return replying(
        head(length=len(body)), *[body[i : i + 1] for i in range(len(body))], pause=every
    )


def flooding(total: int) -> Script:
    """The start of a JSON array of ``total`` bytes, streamed without a length, 64 KB at once."""

    async def script(writer: asyncio.StreamWriter) -> None:
        writer.write(head(length=None) + b"[")
        for _ in range(total // 65_536):
            writer.write(b'"x",' * 16_384)
            await writer.drain()

    return script


async def _ask(
    script: Script, *, time_limit: str = "1.5", max_bytes: str | None = None
) -> tuple[str | llm.ToolError, Control]:
    """What the LLM gets from a tool whose service answers with ``script``."""
    async with RawServer(script) as base:
        env = {
            "HTTP_TOOLS_REWRITE": f"https://api.acme.test={base}",
            "HTTP_TOOLS_ALLOW": "127.0.0.1",
            "HTTP_TOOLS_TIMEOUT": time_limit,
        }
        if max_bytes:
            env["HTTP_TOOLS_MAX_RESPONSE_BYTES"] = max_bytes
        tool, control = custom_tool(
            "https://api.acme.test/orders/1",
            env,
            variables={"token": SECRET},
            headers=[{"key": "Authorization", "value": "Bearer {{token}}"}],
        )
        try:
            return await tool({}, None), control
        except llm.ToolError as error:
            return error, control


def _outcome(control: Control) -> str:
    return str(control.of("http_tool")[0]["outcome"])


# -- answers read whole ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    "script",
    [
        replying(head(length=len(BODY)), BODY[:37], BODY[37:], pause=0.01),
        replying(head(length=None), BODY[:10], BODY[10:50], BODY[50:], pause=0.05),
        replying(
            head(length=None, Transfer_Encoding="chunked"),
            *chunked(BODY[:20], BODY[20:21], BODY[21:]),
            pause=0.05,
        ),
        replying(head(length=len(BODY)) + BODY[:1], BODY[1:], pause=0.3),
    ],
    ids=["two-pieces", "until-closed", "chunked", "slow-second-piece"],
)
async def test_an_answer_in_pieces_reaches_the_llm_whole(script: Script) -> None:
    assert len(BODY) == 73
    told, control = await _ask(script)
    assert told == COMPACT
    assert _outcome(control) == "200"


async def test_the_egress_reads_to_the_end() -> None:
    async with RawServer(
        replying(head(length=len(BODY)), BODY[:37], BODY[37:], pause=0.01)
    ) as base:
        answer = await request(
            "GET",
            base,
            policy=EgressPolicy(allow=frozenset({"127.0.0.1"})),
            time_limit=2,
            max_bytes=1000,
        )
    assert answer.body == BODY and not answer.truncated


async def test_a_secret_split_across_pieces_is_still_redacted() -> None:
    echo = json.dumps({"you sent": f"Bearer {SECRET}"}).encode()
    cut = echo.index(b"SECRET")
    told, _ = await _ask(replying(head(length=len(echo)), echo[:cut], echo[cut:], pause=0.02))
    assert isinstance(told, str)
    assert SECRET not in told and "[redacted]" in told


async def test_a_dripping_answer_is_cut_at_the_time_limit() -> None:
    told, control = await _ask(dripping(BODY, every=0.5))
    assert isinstance(told, llm.ToolError)
    assert told.message == "The service did not answer in full within 1.5 seconds."
    assert _outcome(control) == "timeout"


# -- answers too large ----------------------------------------------------------------------------


async def test_ten_megabytes_is_too_large_not_a_cut_success() -> None:
    big = b'{"items": [' + b'"x",' * (10_000_000 // 4) + b'"x"]}'
    told, control = await _ask(replying(head(length=len(big)), big))
    assert isinstance(told, llm.ToolError)
    assert told.message == "The service's answer was too large (over 64,000 bytes)."
    assert _outcome(control) == "200"


async def test_a_stream_without_length_is_cut_at_the_cap() -> None:
    told, _ = await _ask(flooding(10_000_000))
    assert isinstance(told, llm.ToolError) and "too large (over 64,000 bytes)" in told.message


@pytest.mark.parametrize(("size", "fits"), [(100, True), (101, False)])
async def test_the_cap_is_exact(size: int, fits: bool) -> None:
    body = json.dumps({"pad": "p" * (size - 11)}).encode()
    assert len(body) == size
    told, _ = await _ask(replying(head(length=size), body), max_bytes="100")
    if fits:
        assert told == body.decode().replace(" ", "")
    else:
        assert isinstance(told, llm.ToolError) and "over 100 bytes" in told.message


# -- answers that are not data --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("script", "message"),
    [
        (answering("text/plain", b"ok \xff\xfe\xfd!!"), "not readable text"),
        (answering("text/plain", b"ok\x00\x1b[2Jdone!"), "not readable text"),
        (answering("application/json", b'{"a": "\xc3('), "not readable text"),
        (answering("application/json", b'{"a": "\x00"}'), "not readable text"),
        (answering("application/json", b"{oops"), "not valid JSON"),
        (answering("image/png", b"\x89PNG"), "image/png, not data"),
        (answering(None, b"\x89PNG\r\n"), "application/octet-stream, not data"),
        (answering("text/html", b"<p>hello</p>"), "web page"),
    ],
    ids=[
        "invalid-utf8",
        "control-bytes",
        "json-invalid-utf8",
        "json-nul",
        "bad-json",
        "png",
        "no-type-binary",
        "html",
    ],
)
async def test_unreadable_answers_are_tool_errors(script: Script, message: str) -> None:
    told, control = await _ask(script)
    assert isinstance(told, llm.ToolError) and message in told.message
    assert _outcome(control) == "200"


async def test_json_without_a_content_type_is_data() -> None:
    told, _ = await _ask(answering(None, BODY))
    assert told == COMPACT


async def test_a_declared_charset_is_honoured() -> None:
    text = "Commande expédiée".encode("latin-1")
    told, _ = await _ask(answering("text/plain; charset=iso-8859-1", text))
    assert told == "Commande expédiée"


@pytest.mark.parametrize(
    "script",
    [
        replying(b"\x00\xff\xfe garbage, not HTTP\r\n\r\n"),
        replying(head(length=100) + BODY[:30]),  # closed before the announced length
        replying(head(length=None, Transfer_Encoding="chunked") + b"zz\r\nnope\r\n"),
    ],
    ids=["not-http", "cut-short", "bad-chunks"],
)
async def test_broken_http_is_said_so(script: Script) -> None:
    told, control = await _ask(script)
    assert isinstance(told, llm.ToolError)
    assert told.message == "The service's answer broke off or was not valid HTTP."
    assert _outcome(control) == "broken"


# -- redirects ------------------------------------------------------------------------------------


def redirect_chain() -> Script:
    """Each answer a redirect to a new place: /hop/0, /hop/1..."""
    hops = itertools.count()

    async def script(writer: asyncio.StreamWriter) -> None:
        await redirect_to(f"/hop/{next(hops)}")(writer)

    return script


@pytest.mark.parametrize(
    "script", [redirect_to("/orders/1"), redirect_chain()], ids=["loop", "endless-chain"]
)
async def test_a_redirect_loop_is_said_so(script: Script) -> None:
    told, control = await _ask(script)
    assert isinstance(told, llm.ToolError)
    assert told.message == "The service redirected too many times."
    assert _outcome(control) == "redirects"


async def test_a_redirect_without_location_is_an_error_status() -> None:
    told, _ = await _ask(replying(b"HTTP/1.1 302 Found\r\nContent-Length: 0\r\n\r\n"))
    assert isinstance(told, llm.ToolError) and told.message == "The service answered HTTP 302"
