"""One-time work a job process would otherwise do during its first (and only) call.

A LiveKit job process serves one call, so every lazy first use in a call is paid on every
call, on the event loop, right when the caller is waiting for the greeting. The worker's
prewarm calls ``warm_process`` while the process is still idle, before a job is assigned.
Profiling a first call against a second call in the same process found these costs (about
120 ms of CPU on the greeting's path on a 2-core machine, plus 90 ms per OpenAI client): the
transcript synchroniser's hyphenation patterns, the CA bundles of the job's shared HTTP
session and of the OpenAI clients, and modules imported on first use (the OpenAI client's
HTTP stack, numpy's FFT for the speaking-rate estimate). ``bench/first_word.py`` measures it.
"""

from __future__ import annotations

import asyncio
import importlib

from livekit.agents import utils
from livekit.agents.tokenize import basic

from .providers import openai_client, tls_context

LAZY_MODULES = (
    "anyio._backends._asyncio",
    "anyio.streams.tls",
    "h11",
    "httpcore2",
    "livekit.agents.llm.async_toolset",
    "jiter",
    "livekit.rtc.resources",
    "numpy.fft",
    "openai.lib.streaming.chat",
    "openai.pagination",
    "openai.resources.models",
)
"""Modules a call imports on first use, its first LLM answer included (found by diffing
``sys.modules`` around a first call)."""


def warm_process() -> None:
    """Do now, once, what the first call of this process would otherwise do."""
    basic.hyphenate_word("warm")  # builds the hyphenation pattern tree
    tls_context()  # the OpenAI clients' CA bundle, parsed once
    for name in LAZY_MODULES:
        importlib.import_module(name)
    asyncio.run(_warm_clients())


async def _warm_clients() -> None:
    # the SDK imports its chat resources on a client's first use of them (no request is sent)
    client = openai_client("warm-up", "http://127.0.0.1/v1")
    _ = client.chat.completions
    await client.close()
    # the framework caches the session's TLS context per process: building it parses the CA
    # bundle, and the session itself belongs to the job's event loop, so only the context stays
    async with utils.http_context.open():
        utils.http_context.http_session()
