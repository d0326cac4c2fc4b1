"""Build the provider plugins of a call from its config and the environment.

Always plugin *instances*, never model strings (a string routes to LiveKit's cloud gateway).
Keys come from the environment; a missing one is a ``ProviderConfigError`` naming the variable.
Each provider's endpoint can be moved with ``<PROVIDER>_BASE_URL`` (a proxy, a regional host, or
a local stand-in in tests).
The VAD and the end-of-turn model are the offline ones of ``livekit-local-inference``.
"""

from __future__ import annotations

import functools
import os
import ssl
from collections.abc import Mapping
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from livekit.agents import inference, llm, stt, tts

from .config.assistant import Voice
from .config.llm import CustomLLM, DedicatedLLM, LLMModel, OpenRouterLLM, RealtimeLLM
from .errors import ProviderConfigError

if TYPE_CHECKING:
    import openai as openai_sdk

SttProvider = Literal["openai", "cartesia", "elevenlabs"]

DEFAULT_CARTESIA_VOICE = "f786b574-daa5-4673-aa0c-cbe3e8534c02"
"""Cartesia's default voice, used when the assistant has no ``voice``."""


@dataclass(frozen=True)
class ProviderEnv:
    """The environment the providers are built from, read once."""

    values: Mapping[str, str] = field(default_factory=dict)

    @classmethod
    def from_environ(cls) -> ProviderEnv:
        """Snapshot ``os.environ``."""
        return cls(dict(os.environ))

    def get(self, name: str) -> str | None:
        """A variable's value, or None when unset or empty."""
        return self.values.get(name) or None

    def require(self, name: str, purpose: str) -> str:
        """A variable's value, or a ``ProviderConfigError`` naming it and what needs it."""
        value = self.get(name)
        if value is None:
            raise ProviderConfigError(f"{name} is not set; it is needed for {purpose}")
        return value


@functools.cache
def tls_context() -> ssl.SSLContext:
    """The TLS context every OpenAI-compatible client of this process shares.

    Building one parses the CA bundle (about 90 ms of CPU); left to itself the OpenAI plugin
    builds one per client, twice per call, on the greeting's path. The worker's prewarm builds
    it before the job. Certificates and host names are verified; ``SSL_CERT_FILE`` and
    ``SSL_CERT_DIR`` are honoured, as by the clients' own.
    """
    return ssl.create_default_context()


def openai_client(api_key: str, base_url: str) -> openai_sdk.AsyncClient:
    """An OpenAI SDK client on the shared TLS context, with the plugin's own HTTP settings."""
    import httpx2
    import openai as openai_sdk

    return openai_sdk.AsyncClient(
        api_key=api_key,
        base_url=base_url,
        max_retries=0,  # the session retries, quickly (``TurnOptions.provider_retries``)
        http_client=httpx2.AsyncClient(
            verify=tls_context(),
            timeout=httpx2.Timeout(connect=15.0, read=5.0, write=5.0, pool=5.0),
            follow_redirects=True,
            limits=httpx2.Limits(
                max_connections=50, max_keepalive_connections=50, keepalive_expiry=120
            ),
        ),
    )


def build_llm(model: LLMModel, env: ProviderEnv) -> llm.LLM | llm.RealtimeModel:
    """The LLM plugin for an ``llm_model`` config."""
    from livekit.plugins import openai

    match model:
        case DedicatedLLM(name="gpt-4.1"):
            return openai.LLM(
                model="gpt-4.1",
                client=openai_client(
                    env.require("OPENAI_API_KEY", "llm_model gpt-4.1"),
                    env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
                ),
            )
        case DedicatedLLM():
            return openai.LLM(
                model=model.name,
                client=openai_client(
                    env.get("MINISTRAL_API_KEY") or "no-key",
                    env.require("MINISTRAL_BASE_URL", f"llm_model {model.name}"),
                ),
                _strict_tool_schema=False,
            )
        case OpenRouterLLM():
            key = env.require("OPENROUTER_API_KEY", "an openrouter llm_model")
            return openai.LLM.with_openrouter(
                model=model.openrouter_model_id,
                api_key=key,
                client=openai_client(
                    key, env.get("OPENROUTER_BASE_URL") or "https://openrouter.ai/api/v1"
                ),
                provider={"order": [model.openrouter_provider], "allow_fallbacks": False},
            )
        case CustomLLM():
            return openai.LLM(
                model=model.model_name,
                client=openai_client(model.api_key.get_secret_value(), model.api_url),
                _strict_tool_schema=False,
            )
        case RealtimeLLM(provider="openai"):
            return openai.realtime.RealtimeModel(
                model=model.realtime_model_id,
                voice=model.realtime_voice_id or "marin",
                api_key=env.require("OPENAI_API_KEY", "an openai realtime llm_model"),
            )
        case RealtimeLLM():
            return _google_realtime(model, env)
    raise ProviderConfigError(f"unsupported llm_model type {model.type!r}")


def _google_realtime(model: RealtimeLLM, env: ProviderEnv) -> llm.RealtimeModel:
    try:
        import livekit.plugins.google as google
    except ImportError:
        raise ProviderConfigError(
            "a google realtime llm_model needs the optional plugin: "
            "pip install 'agent-runtime[google]'"
        ) from None
    realtime: llm.RealtimeModel = google.realtime.RealtimeModel(
        model=model.realtime_model_id,
        voice=model.realtime_voice_id or "Puck",
        api_key=env.require("GOOGLE_API_KEY", "a google realtime llm_model"),
    )
    return realtime


def build_tts(voice: Voice | None, env: ProviderEnv) -> tts.TTS:
    """The TTS plugin for a ``voice`` config (Cartesia's default voice when there is none).

    Cartesia takes speed and volume itself (sonic-3). ElevenLabs takes speed in its voice
    settings and has no volume: the output path applies that gain.
    """
    if voice is None or voice.provider == "cartesia":
        from livekit.plugins import cartesia

        return cartesia.TTS(
            api_key=env.require("CARTESIA_API_KEY", "a cartesia voice"),
            base_url=env.get("CARTESIA_BASE_URL") or "https://api.cartesia.ai",
            model="sonic-3",
            voice=voice.id if voice else DEFAULT_CARTESIA_VOICE,
            speed=voice.speed if voice else None,
            volume=voice.volume if voice else None,
        )
    from livekit.plugins import elevenlabs

    return elevenlabs.TTS(
        api_key=env.require("ELEVEN_API_KEY", "an elevenlabs voice"),
        base_url=env.get("ELEVEN_BASE_URL") or "https://api.elevenlabs.io/v1",
        voice_id=voice.id,
        voice_settings=elevenlabs.VoiceSettings(
            stability=0.5, similarity_boost=0.75, speed=voice.speed
        ),
        encoding="pcm_24000",
    )


def build_stt(env: ProviderEnv) -> stt.STT:
    """The speech-to-text plugin chosen by ``STT_PROVIDER`` (default ``openai``)."""
    provider = env.get("STT_PROVIDER") or "openai"
    language = env.get("STT_LANGUAGE") or "en"
    if provider == "openai":
        from livekit.plugins import openai

        return openai.STT(
            model="gpt-4o-mini-transcribe",
            language=language,
            client=openai_client(
                env.require("OPENAI_API_KEY", "STT_PROVIDER=openai"),
                env.get("OPENAI_BASE_URL") or "https://api.openai.com/v1",
            ),
            use_realtime=True,
        )
    if provider == "cartesia":
        from livekit.plugins import cartesia

        return cartesia.STT(
            api_key=env.require("CARTESIA_API_KEY", "STT_PROVIDER=cartesia"), language=language
        )
    if provider == "elevenlabs":
        from livekit.plugins import elevenlabs

        return elevenlabs.STT(
            api_key=env.require("ELEVEN_API_KEY", "STT_PROVIDER=elevenlabs"),
            language_code=language,
        )
    raise ProviderConfigError(
        f"STT_PROVIDER must be one of openai, cartesia, elevenlabs (got {provider!r})"
    )


def build_vad(executor: Executor | None = None) -> inference.VAD:
    """The offline VAD of ``livekit-local-inference`` (its model is loaded once per process).

    ``executor`` runs the inference; by default each stream gets a one-thread pool.
    """
    return inference.VAD(min_silence_duration=0.25, executor=executor)


def build_turn_detector() -> inference.TurnDetector:
    """The offline audio end-of-turn model. ``v1-mini`` is pinned: the default goes to cloud."""
    return inference.TurnDetector(version="v1-mini")


@dataclass(frozen=True)
class Providers:
    """Everything a call's session is built from."""

    stt: stt.STT | None
    llm: llm.LLM | llm.RealtimeModel
    tts: tts.TTS | None
    vad: inference.VAD
    turn_detector: inference.TurnDetector


def build_providers(
    model: LLMModel, voice: Voice | None, env: ProviderEnv, *, vad: inference.VAD | None = None
) -> Providers:
    """All providers of a call. A realtime model speaks and listens itself: no STT, no TTS."""
    chat = build_llm(model, env)
    realtime = isinstance(chat, llm.RealtimeModel)
    return Providers(
        stt=None if realtime else build_stt(env),
        llm=chat,
        tts=None if realtime else build_tts(voice, env),
        vad=vad or build_vad(),
        turn_detector=build_turn_detector(),
    )
