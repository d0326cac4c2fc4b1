"""A call's capture (``AGENT_CAPTURE``): what a replay needs beyond the report and recording.

``capture.json``, next to ``report.json`` and ``recording.wav``, holds the call config (secrets
masked: header values, API keys), the sentences the runtime spoke on its own (not the LLM's),
and the HTTP answers the call's tools and integrations read (no header). The report holds the
rest: the transcript with its times, the speech timing, the phone events.
``agent-runtime import-call`` turns the three into a recorded call.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import Callable, Iterable
from contextvars import Token
from pathlib import Path
from typing import Any

from livekit.agents import AgentSession, UserInputTranscribedEvent
from pydantic import BaseModel, ConfigDict, Field, SecretStr

from ..config.spec import CallSpec
from ..config.templating import PLACEHOLDER, as_text
from ..integrations.exchanges import EXCHANGES, Exchange

CAPTURE = "capture.json"
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


class Capture(BaseModel):
    """The content of ``capture.json``."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    version: int = 1
    call: dict[str, Any]
    fixed_sentences: list[str] = Field(default_factory=list)
    """Sentences the runtime said itself (greeting, goodbyes, recovery lines): not LLM answers."""
    http: list[CapturedExchange] = Field(default_factory=list)
    stt: list[CapturedTranscript] = Field(default_factory=list)


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
        self._token: Token[list[Exchange] | None] | None = None

    def start(self) -> None:
        """Keep the HTTP answers of the calling task and of the tasks it starts from now."""
        self._token = EXCHANGES.set(self._exchanges)

    def attach(self, session: AgentSession, offset: Callable[[], float]) -> None:
        """Keep the session's final transcripts, timed by ``offset`` (seconds from the start)."""

        def transcribed(ev: UserInputTranscribedEvent) -> None:
            if ev.is_final and ev.transcript.strip():
                self._transcripts.append(CapturedTranscript(text=ev.transcript, at=offset()))

        session.on("user_input_transcribed", transcribed)

    def stop(self) -> None:
        """Stop keeping them (in the task that started)."""
        if self._token is not None:
            EXCHANGES.reset(self._token)
            self._token = None

    def write(self, folder: Path) -> Path:
        """Write ``capture.json`` into ``folder``; every known secret is masked.

        Known secrets: header values, the prompt variables a header uses, and the settings'
        secrets, wherever they appear (the config, a URL, an answer).
        """
        capture = Capture(
            call=_masked_headers(self._call),
            fixed_sentences=self._fixed,
            http=[_captured(e) for e in self._exchanges],
            stt=self._transcripts,
        )
        text = json.dumps(capture.model_dump(mode="json", by_alias=True), indent=2)
        for secret in self._secrets:
            text = text.replace(json.dumps(secret)[1:-1], MASK)
        path = folder / CAPTURE
        path.write_text(text + "\n")
        return path


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
