"""A recorded call: a folder with everything needed to play a call again, offline.

| file | what it holds |
|---|---|
| ``call.json`` | the call config (any document ``check-config`` accepts) |
| ``caller.wav`` | the caller's side of the line (telephony audio, any rate) |
| ``stt.json`` | what speech-to-text heard, timed against ``caller.wav`` |
| ``llm.json`` | the LLM's answers, served by a local OpenAI-compatible server |
| ``http.json`` | optional: the answers of the HTTP services the tools called |
| ``env.json`` | optional: the integrations' settings at recording time (dummy credentials) |
| ``caller.json`` | optional: when the caller hangs up |
| ``phone.json`` | optional: what the phone line did (dial outcome, keys pressed, transfer answer) |
| ``expect.json`` | optional: what the call report must show (used by the tests) |
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from pydantic import BaseModel, ConfigDict, Field

from ..telephony.recorded import PhoneScript
from .http_server import HttpScript
from .llm_server import LLMScript


class Utterance(BaseModel):
    """One stretch of caller speech and its transcript."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    start: float = Field(ge=0, description="Seconds into caller.wav where the speech starts.")
    end: float = Field(ge=0, description="Where it ends.")
    text: str
    delay: float = Field(default=0.25, ge=0, description="STT finalisation delay after `end`.")


class SttScript(BaseModel):
    """The speech-to-text side of a recorded call."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    utterances: list[Utterance] = Field(default_factory=list)


class CallerScript(BaseModel):
    """What the caller does besides speaking."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    hangup_at: float | None = Field(
        default=None, description="Seconds from the start; default: `tail` after the audio ends."
    )
    tail: float = Field(default=10.0, ge=0, description="Seconds of silence kept after the audio.")


@dataclass(frozen=True)
class RecordedCall:
    """A loaded recorded-call folder."""

    folder: Path
    config_path: Path
    audio: npt.NDArray[np.int16]
    sample_rate: int
    stt: SttScript
    llm: LLMScript
    http: HttpScript
    env: dict[str, str]
    caller: CallerScript
    phone: PhoneScript
    expect: dict[str, Any]

    @property
    def audio_seconds(self) -> float:
        """Length of the caller audio."""
        return self.audio.size / self.sample_rate

    @property
    def hangup_at(self) -> float:
        """When the caller hangs up, in seconds from the start of the call."""
        if self.caller.hangup_at is not None:
            return self.caller.hangup_at
        return self.audio_seconds + self.caller.tail

    @classmethod
    def load(cls, folder: str | Path) -> RecordedCall:
        """Load a recorded call folder."""
        root = Path(folder)
        if not (root / "call.json").is_file():
            raise FileNotFoundError(f"{root} is not a recorded call: call.json is missing")
        data, rate = soundfile.read(str(root / "caller.wav"), dtype="int16", always_2d=True)
        audio = np.ascontiguousarray(data[:, 0])

        def optional(name: str) -> Any:
            path = root / name
            return json.loads(path.read_text()) if path.is_file() else {}

        return cls(
            folder=root,
            config_path=root / "call.json",
            audio=audio,
            sample_rate=int(rate),
            stt=SttScript.model_validate(optional("stt.json")),
            llm=LLMScript.model_validate(optional("llm.json")),
            http=HttpScript.model_validate(optional("http.json")),
            env={str(k): str(v) for k, v in optional("env.json").items()},
            caller=CallerScript.model_validate(optional("caller.json")),
            phone=PhoneScript.model_validate(optional("phone.json")),
            expect=optional("expect.json"),
        )
