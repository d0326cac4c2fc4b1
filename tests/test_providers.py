"""The provider factory builds real plugin instances, checked at their network boundary."""

from __future__ import annotations

import ssl
import subprocess
import sys
from typing import Any

import numpy as np
import pytest
from aiohttp import web
from livekit.agents import inference, llm, tts, utils
from livekit.plugins import cartesia, elevenlabs, openai

from agent_runtime.config.assistant import Voice
from agent_runtime.config.llm import CustomLLM, DedicatedLLM, OpenRouterLLM, RealtimeLLM
from agent_runtime.config.voice import VoiceProfile
from agent_runtime.errors import ProviderConfigError, SettingsError
from agent_runtime.offline_tts import espeak_available
from agent_runtime.providers import (
    KEYLESS,
    Clients,
    ProviderSettings,
    build_llm,
    build_providers,
    build_stt,
    build_tts,
    build_voice,
    tls_context,
)
from agent_runtime.replay.llm_server import LLMScript, ScriptedAnswer, ScriptedLLMServer
from agent_runtime.replay.local_server import serve

KEYS = {
    "OPENAI_API_KEY": "sk-openai-test",
    "OPENROUTER_API_KEY": "sk-or-test",
    "CARTESIA_API_KEY": "cartesia-test",
    "ELEVEN_API_KEY": "eleven-test",
    "GOOGLE_API_KEY": "google-test",
}


def settings(env: dict[str, str]) -> ProviderSettings:
    return ProviderSettings.from_env(env)


def voice(**fields: Any) -> VoiceProfile:
    return VoiceProfile.of(Voice(**fields))


async def _ask(model: llm.LLM | llm.RealtimeModel, clients: Clients) -> str:
    """Ask ``model`` once, then close it and the clients built for it."""
    assert isinstance(model, llm.LLM)
    ctx = llm.ChatContext.empty()
    ctx.add_message(role="user", content="hello")
    text = ""
    async with model.chat(chat_ctx=ctx) as stream:
        async for chunk in stream:
            if chunk.delta and chunk.delta.content:
                text += chunk.delta.content
    await model.aclose()
    await clients.aclose()
    return text


@pytest.fixture
def llm_server() -> ScriptedLLMServer:
    script = LLMScript(answers=[ScriptedAnswer(text="hi there", ttft=0, token_interval=0)])
    return ScriptedLLMServer(script)


async def test_dedicated_gpt41_goes_to_openai(llm_server: ScriptedLLMServer) -> None:
    async with serve(llm_server.app) as base:
        env = settings({**KEYS, "OPENAI_BASE_URL": f"{base}/v1"})
        clients = Clients()
        model = build_llm(DedicatedLLM(type="dedicated-instance", name="gpt-4.1"), env, clients)
        assert await _ask(model, clients) == "hi there"
    (request,) = llm_server.requests
    assert request.body["model"] == "gpt-4.1"
    assert request.headers["Authorization"] == "Bearer sk-openai-test"


async def test_ministral_goes_to_its_configured_endpoint(llm_server: ScriptedLLMServer) -> None:
    async with serve(llm_server.app) as base:
        env = settings({"MINISTRAL_BASE_URL": f"{base}/v1"})
        clients = Clients()
        model = build_llm(
            DedicatedLLM(type="dedicated-instance", name="ministral-3-8b-instruct"), env, clients
        )
        assert await _ask(model, clients) == "hi there"
    assert llm_server.requests[0].body["model"] == "ministral-3-8b-instruct"


async def test_openrouter_pins_the_provider(llm_server: ScriptedLLMServer) -> None:
    config = OpenRouterLLM(
        type="openrouter", openrouter_model_id="openai/gpt-4.1", openrouter_provider="nebius"
    )
    async with serve(llm_server.app) as base:
        env = settings({**KEYS, "OPENROUTER_BASE_URL": f"{base}/v1"})
        clients = Clients()
        assert await _ask(build_llm(config, env, clients), clients) == "hi there"
    body = llm_server.requests[0].body
    assert body["model"] == "openai/gpt-4.1"
    assert body["provider"] == {"order": ["nebius"], "allow_fallbacks": False}
    assert llm_server.requests[0].headers["Authorization"] == "Bearer sk-or-test"


async def test_custom_endpoint_uses_the_config_key(llm_server: ScriptedLLMServer) -> None:
    async with serve(llm_server.app) as base:
        config = CustomLLM(
            type="custom", api_key="byo-key", api_url=f"{base}/v1", model_name="llama-3-70b"
        )
        clients = Clients()
        assert await _ask(build_llm(config, settings({}), clients), clients) == "hi there"
    assert llm_server.requests[0].body["model"] == "llama-3-70b"
    assert llm_server.requests[0].headers["Authorization"] == "Bearer byo-key"


def test_realtime_models() -> None:
    env = settings(KEYS)
    openai_rt = build_llm(
        RealtimeLLM(type="realtime", provider="openai", realtime_model_id="gpt-realtime"),
        env,
        Clients(),
    )
    assert isinstance(openai_rt, openai.realtime.RealtimeModel)
    assert openai_rt.model == "gpt-realtime"
    google_rt = build_llm(
        RealtimeLLM(
            type="realtime",
            provider="google",
            realtime_model_id="gemini-live-2.5-flash",
            realtime_voice_id="Kore",
        ),
        env,
        Clients(),
    )
    assert isinstance(google_rt, llm.RealtimeModel)
    assert type(google_rt).__module__.startswith("livekit.plugins.google")


def test_google_without_its_plugin_names_the_extra() -> None:
    code = (
        "import sys; sys.modules['livekit.plugins.google'] = None\n"
        "from agent_runtime.config.llm import RealtimeLLM\n"
        "from agent_runtime.providers import Clients, ProviderSettings, build_llm\n"
        "try:\n"
        "    build_llm(RealtimeLLM(type='realtime', provider='google', realtime_model_id='g'),"
        " ProviderSettings.from_env({'GOOGLE_API_KEY': 'k'}), Clients())\n"
        "except Exception as e:\n"
        "    print(type(e).__name__, e)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert "ProviderConfigError" in out.stdout
    assert "agent-runtime[google]" in out.stdout


@pytest.mark.parametrize(
    ("config", "variable"),
    [
        (DedicatedLLM(type="dedicated-instance", name="gpt-4.1"), "OPENAI_API_KEY"),
        (
            DedicatedLLM(type="dedicated-instance", name="ministral-3-8b-instruct"),
            "MINISTRAL_BASE_URL",
        ),
        (
            OpenRouterLLM(type="openrouter", openrouter_model_id="a", openrouter_provider="b"),
            "OPENROUTER_API_KEY",
        ),
        (RealtimeLLM(type="realtime", provider="openai", realtime_model_id="m"), "OPENAI_API_KEY"),
        (RealtimeLLM(type="realtime", provider="google", realtime_model_id="m"), "GOOGLE_API_KEY"),
    ],
)
def test_missing_key_names_the_variable(config: Any, variable: str) -> None:
    with pytest.raises(ProviderConfigError, match=variable):
        build_llm(config, settings({}), Clients())


def test_missing_tts_and_stt_keys() -> None:
    with pytest.raises(ProviderConfigError, match="CARTESIA_API_KEY"):
        build_tts(VoiceProfile.of(None), settings({}))
    with pytest.raises(ProviderConfigError, match="ELEVEN_API_KEY"):
        build_tts(voice(id="v", provider="elevenlabs"), settings({}))
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY"):
        build_stt(settings({}), Clients())
    with pytest.raises(SettingsError, match="STT_PROVIDER: must be 'openai', 'cartesia' or"):
        settings({"STT_PROVIDER": "whisperx"})


class FakeTTSApi:
    """Cartesia's and ElevenLabs' HTTP synthesis endpoints, answering with 0.1 s of PCM."""

    def __init__(self) -> None:
        self.bodies: list[dict[str, Any]] = []
        self.paths: list[str] = []
        self.app = web.Application()
        self.app.router.add_post("/tts/bytes", self._answer)
        self.app.router.add_post("/v1/text-to-speech/{voice}/stream", self._answer)

    async def _answer(self, request: web.Request) -> web.Response:
        self.bodies.append(await request.json())
        self.paths.append(request.path_qs)
        pcm = (np.sin(np.arange(2400) / 10) * 3000).astype(np.int16).tobytes()
        return web.Response(body=pcm, content_type="audio/pcm")


async def _synthesize(tts: Any) -> float:
    duration = 0.0
    async with utils.http_context.open(), tts.synthesize("Hello there.") as stream:
        async for audio in stream:
            duration += audio.frame.duration
    await tts.aclose()
    return duration


async def test_cartesia_receives_voice_speed_and_volume() -> None:
    api = FakeTTSApi()
    async with serve(api.app) as base:
        env = settings({**KEYS, "CARTESIA_BASE_URL": base})
        tts = build_tts(voice(id="voice-123", provider="cartesia", speed=1.3, volume=1.5), env)
        assert isinstance(tts, cartesia.TTS)
        assert await _synthesize(tts) == pytest.approx(0.1, abs=0.01)
    body = api.bodies[0]
    assert body["voice"] == {"mode": "id", "id": "voice-123"}
    assert body["model_id"] == "sonic-3"
    assert body["generation_config"] == {"speed": 1.3, "volume": 1.5}


async def test_elevenlabs_receives_voice_and_speed() -> None:
    api = FakeTTSApi()
    async with serve(api.app) as base:
        env = settings({**KEYS, "ELEVEN_BASE_URL": f"{base}/v1"})
        tts = build_tts(voice(id="el-voice", provider="elevenlabs", speed=0.9, volume=1.5), env)
        assert isinstance(tts, elevenlabs.TTS)
        assert await _synthesize(tts) > 0
    assert api.paths[0].startswith("/v1/text-to-speech/el-voice/stream?output_format=pcm_24000")
    assert api.bodies[0]["voice_settings"]["speed"] == 0.9
    assert "volume" not in str(api.bodies[0])


async def test_offline_vad_and_turn_detector() -> None:
    providers = build_providers(
        DedicatedLLM(type="dedicated-instance", name="gpt-4.1"),
        VoiceProfile.of(None),
        settings(KEYS),
    )
    await providers.aclose()
    assert isinstance(providers.vad, inference.VAD)
    assert isinstance(providers.turn_detector, inference.TurnDetector)
    assert isinstance(providers.stt, openai.STT)
    assert isinstance(providers.tts, cartesia.TTS | tts.FallbackAdapter)
    assert providers.tts.provider == "Cartesia"  # the voice that speaks while it answers


def test_the_offline_voice_is_the_last_resort_unless_turned_off() -> None:
    chain = build_voice(voice(id="v", provider="cartesia"), settings(KEYS))
    # espeak-ng speaks the last resort; a machine without it has none (the voice alone)
    assert isinstance(chain, tts.FallbackAdapter if espeak_available() else cartesia.TTS)
    plain = build_voice(
        voice(id="v", provider="cartesia"), settings({**KEYS, "TTS_LAST_RESORT": "none"})
    )
    assert isinstance(plain, cartesia.TTS)


def test_a_realtime_call_has_no_stt_and_speaks_its_sentences_in_the_model_s_voice() -> None:
    providers = build_providers(
        RealtimeLLM(
            type="realtime",
            provider="openai",
            realtime_model_id="gpt-realtime",
            realtime_voice_id="cedar",
        ),
        voice(id="v", provider="cartesia"),
        settings(KEYS),
    )
    assert providers.stt is None and providers.aside_llm is None
    assert providers.tts is not None  # the fixed sentences, not the replies
    assert providers.tts.provider == "api.openai.com"
    assert providers.voice_key is not None and "cedar" in providers.voice_key
    google = build_providers(
        RealtimeLLM(type="realtime", provider="google", realtime_model_id="gemini-live"),
        voice(id="v", provider="cartesia"),
        settings(KEYS),
    )
    assert google.tts is not None and google.tts.provider == "Cartesia"  # the assistant's voice
    assert google.voice_key is None


def test_a_call_s_openai_clients_share_the_process_tls_context(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # parsing the CA bundle costs about 90 ms of CPU per client, on the greeting's path: the
    # clients of a call reuse the context the worker's prewarm built, which still verifies
    context = tls_context()
    assert context.verify_mode == ssl.CERT_REQUIRED and context.check_hostname
    parsed: list[object] = []
    load = ssl.SSLContext.load_verify_locations

    def counting(self: ssl.SSLContext, *args: Any, **kwargs: Any) -> None:
        parsed.append(args or kwargs)
        load(self, *args, **kwargs)

    monkeypatch.setattr(ssl.SSLContext, "load_verify_locations", counting)
    gpt = DedicatedLLM(type="dedicated-instance", name="gpt-4.1")
    for _ in range(2):
        providers = build_providers(gpt, voice(provider="cartesia", id="v"), settings(KEYS))
        assert isinstance(providers.llm, openai.LLM) and isinstance(providers.stt, openai.STT)
    assert parsed == []


def test_a_local_openai_compatible_server_needs_no_key() -> None:
    local = settings({"OPENAI_BASE_URL": "http://127.0.0.1:8000/v1"})
    assert local.require("openai_api_key", "llm_model gpt-4.1") == KEYLESS
    with pytest.raises(ProviderConfigError, match="OPENAI_API_KEY is not set"):
        settings({}).require("openai_api_key", "llm_model gpt-4.1")  # OpenAI's own needs one
