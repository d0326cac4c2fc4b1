"""The AgentSession of a call: offline VAD, the call's end-of-turn decision, VAD interruptions.

The end of a caller's turn is decided by ``agent_runtime.turns`` (the words so far, what the
agent asked, the caller's own pauses and the offline ``v1-mini`` model), plugged in as the
session's turn detector. See docs/turn-taking.md.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

from livekit.agents import AgentSession, APIConnectOptions, TurnHandlingOptions, llm
from livekit.agents.voice.agent_session import SessionConnectOptions

from ..providers import Providers
from ..turns.context import TurnContext
from ..turns.decision import Delays
from ..turns.detector import CallTurnDetector
from .guards.idle import HANGUP_AFTER, PROMPT_AFTER


@dataclass(frozen=True)
class TurnOptions:
    """Turn-taking settings. The defaults suit phone calls."""

    min_endpointing_delay: float = 0.2
    """Silence after the caller's speech before a sure end of turn is answered (the final
    transcript, which the answer needs, usually comes later)."""
    max_endpointing_delay: float = 2.5
    """Most silence waited when the turn is clearly unfinished ("my number is four one five")."""
    likely_endpointing_delay: float = 0.5
    """Silence waited when the audio model is sure and the words tell nothing either way."""
    unsure_endpointing_delay: float = 1.0
    """Silence waited when neither the words nor the audio model say the caller is done."""
    min_interruption_duration: float = 0.2
    """Caller speech that holds the agent's voice: shorter sounds (a click) do not."""
    min_interruption_words: int = 0
    """Words transcribed before caller speech holds the agent; 0: the sound alone, before any
    word is known. A backchannel ("mm-hm") is held back from the transcripts while the agent
    speaks, so it never counts as a word; once it is over and read, a held voice goes on.
    Only with an STT that sends interim words (without them, the first word would come only
    once the caller stopped): otherwise 0."""
    false_interruption_timeout: float = 1.0
    """After caller speech that held the agent and brought no words (a cough), the agent
    resumes after this."""
    idle_prompt_after: float | None = PROMPT_AFTER
    """Seconds of silence on both sides before "Are you still there?"; None: never (nor the
    idle hang-up)."""
    idle_hangup_after: float = HANGUP_AFTER
    """Seconds without a word from the caller after that question before the goodbye."""
    preemptive_generation: bool = True
    """Start the LLM on the final transcript, before the end of turn is confirmed."""
    max_tool_steps: int = 5
    """Consecutive tool rounds allowed in one reply (IVR menus need several)."""
    provider_retries: int = 2
    """Retries of a failed LLM or TTS request, ``provider_retry_interval`` apart: a caller
    waits through them, so they are few and quick (the framework's default waits 2 s each)."""
    provider_retry_interval: float = 0.5
    provider_timeout: float = 8.0
    """Seconds to connect to a provider before the attempt counts as failed."""
    voice_timeout: float = 3.0
    """Seconds the voice may take to start answering before the attempt counts as failed (the
    fallback voice, if any, is then asked)."""


def build_session(providers: Providers, options: TurnOptions) -> AgentSession:
    """An AgentSession wired for a phone call.

    The end of the caller's turn is the call's own decision (``CallTurnDetector``, wrapping the
    offline ``v1-mini``: the framework's default goes to LiveKit Cloud in dev and console
    modes); interruptions are by VAD; the caller's audio is kept during uninterruptible speech;
    a silent caller turns ``away`` after ``options.idle_prompt_after``. There is no
    echo-cancellation warm-up on a phone line.
    """
    realtime = isinstance(providers.llm, llm.RealtimeModel)
    turn_handling = TurnHandlingOptions(
        endpointing={
            "min_delay": options.min_endpointing_delay,
            "max_delay": options.max_endpointing_delay,
        },
        interruption={
            "mode": "vad",
            "discard_audio_if_uninterruptible": False,  # heard, and answered afterwards
            "min_duration": options.min_interruption_duration,
            "min_words": options.min_interruption_words if interim_words(providers) else 0,
            "resume_false_interruption": True,
            "false_interruption_timeout": options.false_interruption_timeout,
        },
        preemptive_generation={"enabled": options.preemptive_generation},
    )
    context = TurnContext()
    if not realtime:
        turn_handling["turn_detection"] = CallTurnDetector(
            providers.turn_detector, context, delays(options)
        )
    kwargs: dict[str, Any] = {}
    if providers.stt is not None:
        kwargs["stt"] = providers.stt
    if providers.tts is not None:
        kwargs["tts"] = providers.tts
    quick = APIConnectOptions(
        max_retry=options.provider_retries,
        retry_interval=options.provider_retry_interval,
        timeout=options.provider_timeout,
    )
    voice = replace(quick, timeout=options.voice_timeout)
    session = AgentSession(
        llm=providers.llm,
        conn_options=SessionConnectOptions(llm_conn_options=quick, tts_conn_options=voice),
        vad=providers.vad,
        turn_handling=turn_handling,
        aec_warmup_duration=None,
        max_tool_steps=options.max_tool_steps,
        user_away_timeout=options.idle_prompt_after,
        session_close_transcript_timeout=0.5,
        **kwargs,
    )
    context.attach(session)
    return session


def interim_words(providers: Providers) -> bool:
    """True when the STT sends words while they are spoken (interim transcripts)."""
    return providers.stt is not None and providers.stt.capabilities.interim_results


def delays(options: TurnOptions) -> Delays:
    """The waits of the end-of-turn decision, from the turn options."""
    return Delays(
        min_delay=options.min_endpointing_delay,
        max_delay=options.max_endpointing_delay,
        likely_delay=options.likely_endpointing_delay,
        unsure_delay=options.unsure_endpointing_delay,
    )
