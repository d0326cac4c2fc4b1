"""A second LLM and a second voice take over when the call's own fail or do not answer in time.

The real plugins, the framework's fallback adapters, and local stand-ins of the providers'
APIs that answer, fail with HTTP 500, or never answer; on the virtual clock.
"""

from __future__ import annotations

import asyncio

import pytest
from aiohttp import web
from livekit.agents import APIConnectOptions, tts, utils

from agent_runtime.config.llm import CustomLLM
from agent_runtime.errors import ProviderConfigError, SettingsError
from agent_runtime.providers import (
    Clients,
    build_llm,
    build_voice,
    with_fallback_llm,
)
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.llm_server import LLMScript, ScriptedAnswer, ScriptedLLMServer
from agent_runtime.replay.local_server import serve

from .test_providers import KEYS, FakeTTSApi, _ask, settings, voice

CUSTOM = {"type": "custom", "model_name": "primary", "api_url": "", "api_key": "sk-custom"}


class BrokenTTSApi(FakeTTSApi):
    """A voice provider that answers 500, or never answers."""

    def __init__(self, *, hang: bool) -> None:
        super().__init__()
        self._hang = hang

    async def _answer(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        if self._hang:
            await asyncio.Event().wait()
        return web.Response(status=500, text="internal error")


def _server(answer: ScriptedAnswer) -> ScriptedLLMServer:
    return ScriptedLLMServer(LLMScript(answers=[answer]))


@pytest.mark.parametrize("fault", ["hang", "error"])
def test_the_fallback_llm_answers_when_the_first_hangs_or_fails(fault: str) -> None:
    broken = ScriptedAnswer(hang=fault == "hang", status=500 if fault == "error" else 200)
    first, second = _server(broken), _server(ScriptedAnswer(text="fallback here", ttft=0.1))

    async def main() -> str:
        async with serve(first.app) as primary_url, serve(second.app) as fallback_url:
            env = settings(
                {
                    **KEYS,
                    "LLM_FALLBACK_MODEL": "gpt-4.1-mini",
                    "LLM_FALLBACK_BASE_URL": f"{fallback_url}/v1",
                }
            )
            clients = Clients()
            own = build_llm(
                CustomLLM.model_validate({**CUSTOM, "api_url": f"{primary_url}/v1"}), env, clients
            )
            return await _ask(with_fallback_llm(own, env, clients), clients)

    assert run_virtual(main) == "fallback here"
    assert first.requests  # asked first (and again in the background, to see it recover)
    (request,) = second.requests
    assert request.body["model"] == "gpt-4.1-mini"
    assert request.headers["Authorization"] == "Bearer sk-openai-test"  # OPENAI_API_KEY


def test_a_fallback_llm_needs_a_key() -> None:
    env = settings({"LLM_FALLBACK_MODEL": "gpt-4.1-mini"})
    own = build_llm(
        CustomLLM.model_validate({**CUSTOM, "api_url": "http://127.0.0.1:9/v1"}), env, Clients()
    )
    with pytest.raises(ProviderConfigError, match="LLM_FALLBACK_API_KEY"):
        with_fallback_llm(own, env, Clients())


def test_a_fallback_voice_must_name_its_provider() -> None:
    with pytest.raises(SettingsError, match="TTS_FALLBACK_VOICE"):
        settings({"TTS_FALLBACK_VOICE": "polly:Joanna"})


@pytest.mark.parametrize("hang", [False, True])
def test_the_fallback_voice_speaks_when_the_first_fails_or_hangs(hang: bool) -> None:
    broken, spare = BrokenTTSApi(hang=hang), FakeTTSApi()

    async def main() -> float:
        async with serve(broken.app) as cartesia_url, serve(spare.app) as eleven_url:
            env = settings(
                {
                    **KEYS,
                    "CARTESIA_BASE_URL": cartesia_url,
                    "ELEVEN_BASE_URL": f"{eleven_url}/v1",
                    "TTS_FALLBACK_VOICE": "elevenlabs:el-spare",
                }
            )
            engine = build_voice(voice(id="voice-123", provider="cartesia"), env)
            assert isinstance(engine, tts.FallbackAdapter)
            heard = 0.0
            quick = APIConnectOptions(max_retry=0, timeout=3.0)  # the session's voice options
            async with (
                utils.http_context.open(),
                engine.synthesize("Hello there.", conn_options=quick) as stream,
            ):
                async for audio in stream:
                    heard += audio.frame.duration
            await engine.aclose()
            return heard

    assert run_virtual(main) > 0
    assert broken.bodies and broken.bodies[0]["voice"]["id"] == "voice-123"
    assert spare.paths[0].startswith("/v1/text-to-speech/el-spare/stream")
