"""A call's capture (``AGENT_CAPTURE``): what a replay needs beyond the report and recording.

``capture.json``, next to ``report.json`` and ``recording.wav``, holds the call config (secrets
masked: header values, API keys), the sentences the runtime spoke on its own (not the LLM's),
the HTTP answers the call's tools and integrations read (no header), the final transcripts with
their times, and the LLM answers the transcript does not show (the answering classifier's).
A warm transfer's colleague is kept too (``colleague``): their timed transcripts, the keys they
pressed, the consultation LLM's answers, and their audio as the leg delivered it
(``capture-colleague.wav``); only the first consultation leg of a call is kept.
The report holds the rest: the transcript with its times, the speech timing, the phone events.
``agent-runtime import-call`` turns the three into a recorded call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from contextvars import Token
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc
from livekit.agents import AgentSession, UserInputTranscribedEvent, llm
from livekit.agents.voice.events import ConversationItemAddedEvent
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..answering.llm_classifier import ASKED, TOOL, Asked
from ..config.spec import CallSpec
from ..config.templating import PLACEHOLDER, as_text
from ..integrations.exchanges import EXCHANGES, Exchange

CAPTURE = "capture.json"
CAPTURED_AUDIO = "capture-caller.wav"
"""The caller's audio as the session received it: its own rate, not resampled."""
CAPTURED_COLLEAGUE_AUDIO = "capture-colleague.wav"
"""A warm transfer colleague's audio as their leg delivered it."""
MASK = "REDACTED"


class CapturedExchange(BaseModel):
    """An HTTP answer read during the call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    method: str
    url: str
    status: int
    content_type: str = ""
    json_body: Any = Field(default=None, alias="json")
    text: str | None = None


class CapturedTranscript(BaseModel):
    """A final transcript of the caller's speech, and when it came."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    text: str
    at: float = Field(description="Seconds from the start of the call.")


class CapturedToolCall(BaseModel):
    """A tool call the LLM answered with."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    arguments: dict[str, Any] = Field(default_factory=dict)


class CapturedLLMAnswer(BaseModel):
    """An LLM request that left no transcript row, and its answer: a classifier's."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    tool: str = Field(description="The tool the request required the LLM to call.")
    user: str = Field(description="The request's user message: the words it was about.")
    tool_calls: list[CapturedToolCall] = Field(default_factory=list)
    text: str = ""
    status: int | None = Field(default=None, description="The HTTP error answered instead.")
    hang: bool = Field(default=False, description="No answer came in time.")
    seconds: float = Field(default=0.0, ge=0, description="How long the answer took.")


class CapturedKey(BaseModel):
    """A key the colleague pressed, and when."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    key: str
    at: float = Field(description="Seconds from the start of the call.")


class CapturedLegAnswer(BaseModel):
    """An answer of the consultation leg's LLM (the briefing, the colleague's decision)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    after: str | None = Field(description="The colleague's last words before it (None: none).")
    text: str = ""
    tool_calls: list[CapturedToolCall] = Field(default_factory=list)


class CapturedColleague(BaseModel):
    """The colleague of a warm transfer: what their leg needs to replay."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    stt: list[CapturedTranscript] = Field(default_factory=list)
    keys: list[CapturedKey] = Field(default_factory=list)
    llm: list[CapturedLegAnswer] = Field(default_factory=list)
    audio_at: float | None = Field(
        default=None,
        description=f"Seconds from the start of the call to {CAPTURED_COLLEAGUE_AUDIO}'s start.",
    )


class Capture(BaseModel):
    """The content of ``capture.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    call: dict[str, Any]
    fixed_sentences: list[str] = Field(default_factory=list)
    """Sentences the runtime said itself (greeting, goodbyes, recovery lines): not LLM answers."""
    http: list[CapturedExchange] = Field(default_factory=list)
    stt: list[CapturedTranscript] = Field(default_factory=list)
    llm: list[CapturedLLMAnswer] = Field(default_factory=list)
    audio_at: float | None = Field(
        default=None, description=f"Seconds from the start of the call to {CAPTURED_AUDIO}'s start."
    )
    colleague: CapturedColleague | None = None


class CallCapture:
    """Keeps one call's HTTP answers while it runs, then writes its ``capture.json``."""

    def __init__(
        self, spec: CallSpec, *, fixed_sentences: Iterable[str], settings: Iterable[BaseModel]
    ) -> None:
        """``settings``: the call's settings, whose secrets (``SecretStr``) are masked too."""
        self._call = spec.call.model_dump(mode="json", exclude_none=True)
        self._fixed = [s for s in fixed_sentences if s]
        headers = list(_header_values(self._call))
        variables = self._call.get("prompt_variables") or {}
        in_headers = {name for h in headers for name in PLACEHOLDER.findall(h)}
        secrets = {
            *headers,
            *(as_text(variables[name]) for name in in_headers if name in variables),
            *(value for model in settings for value in _secret_values(model)),
        }
        self._secrets = sorted((s for s in secrets if len(s) >= 4), key=len, reverse=True)
        self._exchanges: list[Exchange] = []
        self._transcripts: list[CapturedTranscript] = []
        self._asked: list[Asked] = []
        self._audio = _CallerAudio()
        self._colleague: ColleagueCapture | None = None
        self._token: Token[list[Exchange] | None] | None = None
        self._asked_token: Token[list[Asked] | None] | None = None

    def start(self) -> None:
        """Keep the HTTP and classifier answers of the calling task and its new tasks from now."""
        self._token = EXCHANGES.set(self._exchanges)
        self._asked_token = ASKED.set(self._asked)

    def attach(self, session: AgentSession, offset: Callable[[], float]) -> None:
        """Keep the session's final transcripts and the caller's audio, timed by ``offset``.

        ``offset``: seconds from the start of the call.
        """
        self._audio.clock = offset

        def transcribed(ev: UserInputTranscribedEvent) -> None:
            if ev.is_final and ev.transcript.strip():
                self._transcripts.append(CapturedTranscript(text=ev.transcript, at=offset()))

        session.on("user_input_transcribed", transcribed)

    def hear(self, frame: rtc.AudioFrame) -> None:
        """Keep a frame of the caller's audio (a listener of the session's audio input)."""
        self._audio.add(frame)

    def colleague(self) -> ColleagueCapture:
        """What is kept of the warm transfer's colleague (the first leg's)."""
        if self._colleague is None:
            clock = self._audio.clock or (lambda: 0.0)
            self._colleague = ColleagueCapture(clock)
        return self._colleague

    def stop(self) -> None:
        """Stop keeping them (in the task that started)."""
        if self._token is not None:
            EXCHANGES.reset(self._token)
            self._token = None
        if self._asked_token is not None:
            ASKED.reset(self._asked_token)
            self._asked_token = None

    def write(self, folder: Path) -> Path:
        """Write ``capture.json`` and the caller's audio into ``folder``, secrets masked.

        Known secrets: header values, the prompt variables a header uses, and the settings'
        secrets, wherever they appear (the config, a URL, an answer).
        """
        capture = Capture(
            call=_masked_headers(self._call),
            fixed_sentences=self._fixed,
            http=[_captured(e) for e in self._exchanges],
            stt=self._transcripts,
            llm=[_classifier_answer(a) for a in self._asked],
            audio_at=self._audio.write(folder / CAPTURED_AUDIO),
            colleague=self._colleague.captured(folder) if self._colleague is not None else None,
        )
        text = json.dumps(capture.model_dump(mode="json", by_alias=True), indent=2)
        for secret in self._secrets:
            text = text.replace(json.dumps(secret)[1:-1], MASK)
        path = folder / CAPTURE
        path.write_text(text + "\n")
        return path


class ColleagueCapture:
    """Keeps a warm transfer colleague's leg (a ``briefing.BriefingTap``), timed by ``clock``."""

    def __init__(self, clock: Callable[[], float]) -> None:
        self._clock = clock
        self._audio = _CallerAudio()
        self._audio.clock = clock
        self._transcripts: list[CapturedTranscript] = []
        self._keys: list[CapturedKey] = []
        self._answers: list[CapturedLegAnswer] = []
        self._heard: str | None = None
        self._attached = False

    def attach(self, session: AgentSession) -> None:
        """Keep the briefing session's transcripts and its LLM's spoken answers."""
        if self._attached:
            return  # a second leg is not kept: a recorded call has one colleague
        self._attached = True

        def transcribed(ev: UserInputTranscribedEvent) -> None:
            if ev.is_final and ev.transcript.strip():
                self._transcripts.append(CapturedTranscript(text=ev.transcript, at=self._clock()))

        def added(ev: ConversationItemAddedEvent) -> None:
            item = ev.item
            if not isinstance(item, llm.ChatMessage) or not (item.text_content or "").strip():
                return
            if item.role == "user":
                self._heard = item.text_content
            elif item.role == "assistant":
                self._answer(text=item.text_content or "")

        session.on("user_input_transcribed", transcribed)
        session.on("conversation_item_added", added)

    def hear(self, frame: rtc.AudioFrame) -> None:
        """Keep a frame of the colleague's audio."""
        self._audio.add(frame)

    def also(self, tap: Callable[[rtc.AudioFrame], None]) -> Callable[[rtc.AudioFrame], None]:
        """A frame listener that shows each frame to ``tap`` and keeps it."""

        def both(frame: rtc.AudioFrame) -> None:
            tap(frame)
            self.hear(frame)

        return both

    def key(self, key: str) -> None:
        """Keep a key the colleague pressed."""
        self._keys.append(CapturedKey(key=key, at=self._clock()))

    def tool(self, name: str, arguments: dict[str, str]) -> None:
        """Keep a decision tool the briefing LLM called."""
        self._answer(tool=CapturedToolCall(name=name, arguments=arguments))

    def _answer(self, *, text: str = "", tool: CapturedToolCall | None = None) -> None:
        """Keep an answer; its text and tool call, from one LLM answer, join in either order."""
        last = self._answers[-1] if self._answers else None
        joins = last is not None and last.after == self._heard
        if joins and last is not None and (bool(text) != bool(last.text) or tool is not None):
            calls = [*last.tool_calls, *([tool] if tool else [])]
            self._answers[-1] = last.model_copy(
                update={"text": last.text or text, "tool_calls": calls}
            )
            return
        self._answers.append(
            CapturedLegAnswer(after=self._heard, text=text, tool_calls=[tool] if tool else [])
        )

    def captured(self, folder: Path) -> CapturedColleague:
        """What was kept; the audio is written into ``folder``."""
        return CapturedColleague(
            stt=self._transcripts,
            keys=self._keys,
            llm=self._answers,
            audio_at=self._audio.write(folder / CAPTURED_COLLEAGUE_AUDIO),
        )


def _captured(exchange: Exchange) -> CapturedExchange:
    text = exchange.body.decode("utf-8", errors="replace")
    body: dict[str, Any] = {"text": text}
    if "json" in exchange.content_type:
        with contextlib.suppress(ValueError):
            body = {"json": json.loads(text)}
    return CapturedExchange.model_validate(
        {
            "method": exchange.method,
            "url": exchange.url,
            "status": exchange.status,
            "content_type": exchange.content_type,
            **body,
        }
    )


class _CallerAudio:
    """The caller's frames at their own rate, one after the other, as the session got them.

    Every media port hands the session a continuous stream (silence included when nothing
    comes from the line), and the VAD and end-of-turn model hear its samples, never when they
    arrived: so the frames are kept back to back, not placed by the clock (a clock that jumps,
    as a virtual one does under load, would otherwise shift the audio).
    """

    def __init__(self) -> None:
        self.clock: Callable[[], float] | None = None
        self._rate: int | None = None
        self._start = 0.0
        self._chunks: list[npt.NDArray[np.int16]] = []
        self._length = 0

    def add(self, frame: rtc.AudioFrame) -> None:
        if self.clock is None or self._rate not in (None, frame.sample_rate):
            return  # a stream whose rate changed is not kept past the change
        if self._rate is None:
            self._rate, self._start = frame.sample_rate, self.clock() - frame.duration
        self._append(np.frombuffer(frame.data, dtype=np.int16)[:: frame.num_channels].copy())

    def _append(self, samples: npt.NDArray[np.int16]) -> None:
        self._chunks.append(samples)
        self._length += samples.size

    def write(self, path: Path) -> float | None:
        """Write the audio as a mono WAV; when it began (None: no audio came, nothing written)."""
        if self._rate is None:
            return None
        soundfile.write(str(path), np.concatenate(self._chunks), self._rate, subtype="PCM_16")
        return round(self._start, 3)


def _classifier_answer(asked: Asked) -> CapturedLLMAnswer:
    return CapturedLLMAnswer(
        tool=TOOL,
        user=asked.heard,
        tool_calls=[CapturedToolCall(name=n, arguments=a) for n, a in asked.tool_calls],
        text=asked.text,
        status=asked.status,
        hang=asked.timed_out,
        seconds=round(asked.seconds, 3),
    )


def _secret_values(model: BaseModel) -> Iterable[str]:
    """The values of every ``SecretStr`` in ``model`` and the models it holds."""
    for name in type(model).model_fields:
        value = getattr(model, name)
        if isinstance(value, SecretStr):
            yield value.get_secret_value()
        elif isinstance(value, BaseModel):
            yield from _secret_values(value)


def _header_values(value: Any) -> Iterable[str]:
    """The value of every header in a config document."""
    if isinstance(value, list):
        for item in value:
            yield from _header_values(item)
    elif isinstance(value, dict):
        for key, item in value.items():
            if key == "headers" and isinstance(item, list):
                yield from (str(h.get("value", "")) for h in item if isinstance(h, dict))
            else:
                yield from _header_values(item)


def _masked_headers(value: Any) -> Any:
    """``value`` with the value of every header masked (tool headers carry credentials)."""
    if isinstance(value, list):
        return [_masked_headers(v) for v in value]
    if not isinstance(value, dict):
        return value
    masked: dict[str, Any] = {}
    for key, item in value.items():
        if key == "headers" and isinstance(item, list):
            masked[key] = [{**h, "value": MASK} if isinstance(h, dict) else h for h in item]
        elif key == "headers" and isinstance(item, dict):
            masked[key] = dict.fromkeys(item, MASK)
        else:
            masked[key] = _masked_headers(item)
    return masked
