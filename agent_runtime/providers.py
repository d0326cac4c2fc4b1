"""Build the provider plugins of a call from its config and the provider settings.

Always plugin *instances*, never model strings (a string routes to LiveKit's cloud gateway).
Keys come from ``ProviderSettings``; a missing one is a ``ProviderConfigError`` naming the
variable. Each provider's endpoint can be moved with ``<PROVIDER>_BASE_URL`` (a proxy, a
regional host, or a local stand-in in tests). The VAD and the end-of-turn model are the offline
ones of ``livekit-local-inference``. Whoever builds ``Providers`` closes them (``aclose``).
"""

from __future__ import annotations

import contextlib
import functools
import ssl
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal
from urllib.parse import urlsplit

from livekit.agents import APIConnectOptions, inference, llm, stt, tts
from pydantic import Field, SecretStr

from .config.llm import CustomLLM, DedicatedLLM, LLMModel, OpenRouterLLM, RealtimeLLM
from .config.voice import VoiceProfile
from .errors import ProviderConfigError, ProviderError
from .offline_tts import OfflineTTS, espeak_available
from .settings import EnvModel

if TYPE_CHECKING:
    import openai as openai_sdk


OPENAI_HOST = "api.openai.com"
KEYLESS = "keyless"
"""The key sent to an OpenAI-compatible server that needs none (the SDK requires one)."""


class ProviderSettings(EnvModel):
    """Keys and endpoints of the LLM, STT and TTS providers."""

    openai_api_key: SecretStr | None = Field(None, alias="OPENAI_API_KEY")
    openai_base_url: str = Field("https://api.openai.com/v1", alias="OPENAI_BASE_URL")
    openrouter_api_key: SecretStr | None = Field(None, alias="OPENROUTER_API_KEY")
    openrouter_base_url: str = Field("https://openrouter.ai/api/v1", alias="OPENROUTER_BASE_URL")
    ministral_api_key: SecretStr | None = Field(None, alias="MINISTRAL_API_KEY")
    ministral_base_url: str | None = Field(None, alias="MINISTRAL_BASE_URL")
    google_api_key: SecretStr | None = Field(None, alias="GOOGLE_API_KEY")
    cartesia_api_key: SecretStr | None = Field(None, alias="CARTESIA_API_KEY")
    cartesia_base_url: str = Field("https://api.cartesia.ai", alias="CARTESIA_BASE_URL")
    eleven_api_key: SecretStr | None = Field(None, alias="ELEVEN_API_KEY")
    eleven_base_url: str = Field("https://api.elevenlabs.io/v1", alias="ELEVEN_BASE_URL")
    stt_provider: Literal["openai", "cartesia", "elevenlabs"] = Field(
        "openai", alias="STT_PROVIDER"
    )
    stt_language: str = Field("en", alias="STT_LANGUAGE")
    llm_fallback_model: str = Field("", alias="LLM_FALLBACK_MODEL")
    """A second text LLM (OpenAI-compatible), used when the call's own fails or stalls."""
    llm_fallback_base_url: str = Field("", alias="LLM_FALLBACK_BASE_URL")
    """Its endpoint; empty: ``OPENAI_BASE_URL``."""
    llm_fallback_api_key: SecretStr | None = Field(None, alias="LLM_FALLBACK_API_KEY")
    """Its key; unset: ``OPENAI_API_KEY``."""
    tts_fallback_voice: str = Field(
        "", alias="TTS_FALLBACK_VOICE", pattern=r"^$|^(cartesia|elevenlabs):\S+$"
    )
    """A second voice, ``cartesia:<voice id>`` or ``elevenlabs:<voice id>``, used when the
    call's own voice fails or does not answer in time."""
    tts_last_resort: Literal["offline", "none"] = Field("offline", alias="TTS_LAST_RESORT")
    """``offline``: when every provider voice fails, espeak-ng speaks (if it is installed), so
    the caller still hears the agent; ``none``: the call ends as a voice failure."""

    @property
    def keyless_openai(self) -> bool:
        """True when ``OPENAI_BASE_URL`` names another server than OpenAI's (a local model).

        Such a server may need no key.
        """
        return urlsplit(self.openai_base_url).hostname != OPENAI_HOST

    def require(self, name: str, purpose: str) -> str:
        """The value of setting ``name``, or a ``ProviderConfigError`` naming its variable.

        A server other than OpenAI's at ``OPENAI_BASE_URL`` is sent ``KEYLESS`` when
        ``OPENAI_API_KEY`` is unset.
        """
        value = getattr(self, name)
        if isinstance(value, SecretStr):
            value = value.get_secret_value()
        if not value and name == "openai_api_key" and self.keyless_openai:
            return KEYLESS
        if not value:
            variable = type(self).model_fields[name].alias
            raise ProviderConfigError(f"{variable} is not set; it is needed for {purpose}")
        return str(value)


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
    """An OpenAI SDK client on the shared TLS context, with the plugin's own HTTP settings.

    The caller closes it (``await client.close()``): the plugins never close a client they
    were given.
    """
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


@dataclass
class Clients:
    """The OpenAI SDK clients built for a call's plugins, closed with them."""

    made: list[openai_sdk.AsyncClient] = field(default_factory=list)

    def openai(self, api_key: str, base_url: str) -> openai_sdk.AsyncClient:
        """A new client (see ``openai_client``), kept to be closed."""
        client = openai_client(api_key, base_url)
        self.made.append(client)
        return client

    async def aclose(self) -> None:
        """Close every client (idempotent)."""
        made, self.made = self.made, []
        for client in made:
            await client.close()


def build_llm(
    model: LLMModel, settings: ProviderSettings, clients: Clients
) -> llm.LLM | llm.RealtimeModel:
    """The LLM plugin for an ``llm_model`` config."""
    from livekit.plugins import openai

    match model:
        case DedicatedLLM(name="gpt-4.1"):
            key = settings.require("openai_api_key", "llm_model gpt-4.1")
            return openai.LLM(model="gpt-4.1", client=clients.openai(key, settings.openai_base_url))
        case DedicatedLLM():
            base_url = settings.require("ministral_base_url", f"llm_model {model.name}")
            secret = settings.ministral_api_key
            return openai.LLM(
                model=model.name,
                client=clients.openai(secret.get_secret_value() if secret else "no-key", base_url),
                _strict_tool_schema=False,
            )
        case OpenRouterLLM():
            key = settings.require("openrouter_api_key", "an openrouter llm_model")
            return openai.LLM.with_openrouter(
                model=model.openrouter_model_id,
                api_key=key,
                client=clients.openai(key, settings.openrouter_base_url),
                provider={"order": [model.openrouter_provider], "allow_fallbacks": False},
            )
        case CustomLLM():
            return openai.LLM(
                model=model.model_name,
                client=clients.openai(model.api_key.get_secret_value(), model.api_url),
                _strict_tool_schema=False,
            )
        case RealtimeLLM(provider="openai"):
            from .openai_realtime import RealtimeModel

            return RealtimeModel(
                model=model.realtime_model_id,
                voice=model.realtime_voice_id or OPENAI_REALTIME_VOICE,
                api_key=settings.require("openai_api_key", "an openai realtime llm_model"),
                base_url=settings.openai_base_url,
                conn_options=REALTIME_CONNECT,
            )
        case RealtimeLLM():
            return _google_realtime(model, settings)
    raise ProviderConfigError(f"unsupported llm_model type {model.type!r}", provider="llm")


OPENAI_REALTIME_VOICE = "marin"
"""The voice of an OpenAI realtime model whose config names none."""
SENTENCE_TTS_MODEL = "gpt-4o-mini-tts"
"""OpenAI's speech model, which has the realtime models' voices: it speaks the fixed sentences
of an OpenAI realtime call in the conversation's voice."""
REALTIME_CONNECT = APIConnectOptions(max_retry=2, retry_interval=0.5, timeout=8.0)
"""A realtime model's reconnections: few and quick, as the text LLM's retries (a caller waits
through them; the framework's default takes 2 s between tries)."""


def _google_realtime(model: RealtimeLLM, settings: ProviderSettings) -> llm.RealtimeModel:
    try:
        import livekit.plugins.google as google
    except ImportError:
        raise ProviderConfigError(
            "a google realtime llm_model needs the optional plugin: "
            "pip install 'agent-runtime[google]'",
            provider="llm",
        ) from None
    realtime: llm.RealtimeModel = google.realtime.RealtimeModel(
        model=model.realtime_model_id,
        voice=model.realtime_voice_id or "Puck",
        api_key=settings.require("google_api_key", "a google realtime llm_model"),
    )
    return realtime


LLM_ATTEMPT_TIMEOUT = 3.0
"""Seconds the call's LLM has to start answering before its fallback (if any) is asked."""


def with_fallback_llm(
    chat: llm.LLM | llm.RealtimeModel, settings: ProviderSettings, clients: Clients
) -> llm.LLM | llm.RealtimeModel:
    """``chat``, backed by ``LLM_FALLBACK_MODEL`` when that is set (text LLMs only)."""
    if not settings.llm_fallback_model or not isinstance(chat, llm.LLM):
        return chat
    from livekit.plugins import openai

    secret = settings.llm_fallback_api_key or settings.openai_api_key
    if secret is None:
        raise ProviderConfigError(
            "LLM_FALLBACK_API_KEY (or OPENAI_API_KEY) is not set; it is needed for"
            " LLM_FALLBACK_MODEL"
        )
    base_url = settings.llm_fallback_base_url or settings.openai_base_url
    fallback = openai.LLM(
        model=settings.llm_fallback_model,
        client=clients.openai(secret.get_secret_value(), base_url),
        _strict_tool_schema=False,
    )
    return llm.FallbackAdapter([chat, fallback], attempt_timeout=LLM_ATTEMPT_TIMEOUT)


def build_voice(voice: VoiceProfile, settings: ProviderSettings) -> tts.TTS:
    """The call's voice, backed by ``TTS_FALLBACK_VOICE`` and the offline last resort."""
    return _with_fallback_voice(build_tts(voice, settings), settings, voice.speed, voice.volume)


def _with_fallback_voice(
    primary: tts.TTS, settings: ProviderSettings, speed: float | None, volume: float | None
) -> tts.TTS:
    """``primary``, backed by the voices that speak when it fails.

    ``TTS_FALLBACK_VOICE`` (at this speed and Cartesia volume), then the offline voice
    (``TTS_LAST_RESORT``), which needs no provider.
    """
    voices = [primary]
    if settings.tts_fallback_voice:
        provider, voice_id = settings.tts_fallback_voice.split(":", 1)
        second = VoiceProfile(
            "cartesia" if provider == "cartesia" else "elevenlabs",
            voice_id,
            speed=speed,
            volume=volume if provider == "cartesia" else None,
        )
        voices.append(build_tts(second, settings))
    if settings.tts_last_resort == "offline" and espeak_available():
        voices.append(OfflineTTS(engine="espeak", speed=speed or 1.0))
    if len(voices) == 1:
        return primary
    return tts.FallbackAdapter(voices, max_retry_per_tts=0)


def build_tts(voice: VoiceProfile, settings: ProviderSettings) -> tts.TTS:
    """The TTS plugin for the call's voice.

    Cartesia takes speed and volume (sonic-3); ElevenLabs takes speed in its voice settings and
    has no volume.
    """
    if voice.provider == "cartesia":
        from livekit.plugins import cartesia

        return cartesia.TTS(
            api_key=settings.require("cartesia_api_key", "a cartesia voice"),
            base_url=settings.cartesia_base_url,
            model="sonic-3",
            voice=voice.voice_id,
            speed=voice.speed,
            volume=voice.volume,
        )
    from livekit.plugins import elevenlabs

    return elevenlabs.TTS(
        api_key=settings.require("eleven_api_key", "an elevenlabs voice"),
        base_url=settings.eleven_base_url,
        voice_id=voice.voice_id,
        voice_settings=elevenlabs.VoiceSettings(
            stability=0.5, similarity_boost=0.75, speed=voice.speed or 1.0
        ),
        encoding="pcm_24000",
    )


def sentence_voice(
    model: RealtimeLLM, voice: VoiceProfile, settings: ProviderSettings, clients: Clients
) -> tts.TTS:
    """The voice that speaks a realtime call's fixed sentences, word for word.

    The greeting, the goodbyes and the recovery lines are rendered ahead like a text call's and
    played as they are. An OpenAI realtime model's own voice speaks them (``gpt-4o-mini-tts``
    has the realtime voices), with the same key and endpoint; a Google one has no such model:
    the assistant's ``voice`` speaks them. ``TTS_FALLBACK_VOICE`` backs either up.
    """
    if model.provider != "openai":
        return build_voice(voice, settings)
    from livekit.plugins import openai

    key = settings.require("openai_api_key", "an openai realtime llm_model")
    own = openai.TTS(
        model=SENTENCE_TTS_MODEL,
        voice=model.realtime_voice_id or OPENAI_REALTIME_VOICE,
        client=clients.openai(key, settings.openai_base_url),
        response_format="pcm",
    )
    return _with_fallback_voice(own, settings, speed=None, volume=None)


def realtime_voice_key(model: RealtimeLLM) -> str | None:
    """The voice of an OpenAI realtime model's fixed sentences (``Providers.voice_key``)."""
    if model.provider != "openai":
        return None
    return f"openai|{SENTENCE_TTS_MODEL}|{model.realtime_voice_id or OPENAI_REALTIME_VOICE}"


def build_stt(settings: ProviderSettings, clients: Clients) -> stt.STT:
    """The speech-to-text plugin chosen by ``STT_PROVIDER`` (default ``openai``)."""
    language = settings.stt_language
    if settings.stt_provider == "openai":
        from livekit.plugins import openai

        key = settings.require("openai_api_key", "STT_PROVIDER=openai")
        return openai.STT(
            model="gpt-4o-mini-transcribe",
            language=language,
            client=clients.openai(key, settings.openai_base_url),
            use_realtime=True,
        )
    if settings.stt_provider == "cartesia":
        from livekit.plugins import cartesia

        return cartesia.STT(
            api_key=settings.require("cartesia_api_key", "STT_PROVIDER=cartesia"),
            language=language,
        )
    from livekit.plugins import elevenlabs

    return elevenlabs.STT(
        api_key=settings.require("eleven_api_key", "STT_PROVIDER=elevenlabs"),
        language_code=language,
    )


VAD_MIN_SILENCE = 0.25
"""Seconds of silence the VAD needs to end a stretch of speech (it reports the end that late)."""
VAD_DEACTIVATION = 0.5
"""Speech probability under which silence starts counting: the activation threshold itself.
The framework's 0.35 keeps the fading end of a word and line noise as speech a little longer,
and the end of turn waits for it (one run of the tune turn set: answer p50 414 -> 404 ms)."""


def build_vad(executor: Executor | None = None) -> inference.VAD:
    """The offline VAD of ``livekit-local-inference`` (its model is loaded once per process).

    ``executor`` runs the inference; by default each stream gets a one-thread pool.
    """
    return inference.VAD(
        min_silence_duration=VAD_MIN_SILENCE,
        deactivation_threshold=VAD_DEACTIVATION,
        executor=executor,
    )


def build_turn_detector() -> inference.TurnDetector:
    """The offline audio end-of-turn model. ``v1-mini`` is pinned: the default goes to cloud."""
    return inference.TurnDetector(version="v1-mini")


TextLLM = llm.LLM
"""A text LLM (named apart: inside ``Providers``, ``llm`` is a field)."""


@dataclass
class Providers:
    """Everything a call's session is built from; its builder closes it (``aclose``)."""

    stt: stt.STT | None
    llm: llm.LLM | llm.RealtimeModel
    tts: tts.TTS | None
    vad: inference.VAD
    turn_detector: inference.TurnDetector
    clients: Clients = field(default_factory=Clients)
    """The HTTP clients built for the plugins (the plugins do not close them)."""
    aside_llm: TextLLM | None = None
    """A second instance of the call's text LLM, for requests outside the conversation (who
    answered): its failures are not the conversation's, which a shared instance would report
    to the session. None: such requests are not made."""
    voice_key: str | None = None
    """What tells the voice of the rendered sentences apart when it is not the call's ``voice``
    (an OpenAI realtime model's own voice; clip caches key sentences by it). None: the
    call's voice."""

    async def aclose(self) -> None:
        """Close the plugins and their clients (idempotent)."""
        for plugin in (self.stt, self.llm, self.aside_llm, self.tts):
            if plugin is not None:
                with contextlib.suppress(Exception):  # closing must not hide the call's end
                    await plugin.aclose()
        await self.clients.aclose()


def aside_llm(model: LLMModel, settings: ProviderSettings, clients: Clients) -> llm.LLM | None:
    """A second instance of the call's text LLM (``Providers.aside_llm``); None for realtime."""
    aside = build_llm(model, settings, clients)
    return aside if isinstance(aside, llm.LLM) else None


def build_providers(
    model: LLMModel,
    voice: VoiceProfile,
    settings: ProviderSettings,
    *,
    vad: inference.VAD | None = None,
) -> Providers:
    """All providers of a call.

    A realtime model listens and answers itself: no STT, and the TTS only speaks the fixed
    sentences (``sentence_voice``).
    """
    clients = Clients()
    chat = with_fallback_llm(build_llm(model, settings, clients), settings, clients)
    if isinstance(model, RealtimeLLM):
        return Providers(
            stt=None,
            llm=chat,
            tts=sentence_voice(model, voice, settings, clients),
            vad=vad or build_vad(),
            turn_detector=build_turn_detector(),
            clients=clients,
            voice_key=realtime_voice_key(model),
        )
    return Providers(
        aside_llm=aside_llm(model, settings, clients),
        stt=build_stt(settings, clients),
        llm=chat,
        tts=build_voice(voice, settings),
        vad=vad or build_vad(),
        turn_detector=build_turn_detector(),
        clients=clients,
    )


_KINDS = {
    "llm_error": "llm",
    "stt_error": "stt",
    "tts_error": "tts",
    "realtime_model_error": "llm",
}


def provider_error(error: object) -> ProviderError:
    """A provider failure as the framework reports it, as a ``ProviderError``.

    ``error`` is an ``ErrorEvent``'s or a ``CloseEvent``'s; no message or body of the provider
    is kept.
    """
    kind = _KINDS.get(str(getattr(error, "type", "")), "session")
    cause = getattr(error, "error", error)
    return ProviderError(f"the {kind} provider failed ({type(cause).__name__})", provider=kind)
