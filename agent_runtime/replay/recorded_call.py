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
| ``phone.json`` | optional: what the phone line did (dial outcome, keys pressed, transfer answer,
  how a warm transfer's colleague answered: ``consult``) |
| ``supervisor.wav`` | optional: the colleague's side of a warm transfer's leg, from their answer |
| ``supervisor_stt.json`` | optional: what speech-to-text heard of them, timed against it |
| ``expect.json`` | optional: what the call report must show (``replay --check``) |

``RecordedCall.load`` checks the whole folder first: a missing file, unreadable audio, broken
JSON or a field that does not fit is a ``RecordedCallError`` naming the file and the JSON path.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TypeVar

import numpy as np
import numpy.typing as npt
import soundfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from ..config.base import problems_from
from ..errors import AgentRuntimeError, Problem
from ..telephony.recorded import PhoneScript
from .expect import Expectation
from .http_server import HttpScript
from .llm_server import LLMScript
from .media import PartyAudio

_M = TypeVar("_M", bound=BaseModel)

REQUIRED = ("call.json", "caller.wav", "stt.json", "llm.json")
"""The files every recorded call has; the others are optional."""


class RecordedCallError(AgentRuntimeError):
    """A recorded-call folder cannot be replayed: what is missing or malformed, and where."""

    def __init__(self, folder: Path, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(
            f"{folder} is not a recorded call that can be replayed (docs/replay.md):\n{lines}"
        )


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
    expect: Expectation
    supervisor_audio: npt.NDArray[np.int16]
    """The colleague's audio (``supervisor.wav``; empty without it: silence)."""
    supervisor_rate: int
    supervisor_stt: SttScript

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

    def supervisor(self, hangup_at: float) -> PartyAudio:
        """The colleague's recorded audio, hanging up at ``hangup_at`` seconds into it."""
        return PartyAudio(self.supervisor_audio, self.supervisor_rate, hangup_at)

    @classmethod
    def load(cls, folder: str | Path) -> RecordedCall:
        """Load and check a recorded call folder; ``RecordedCallError`` lists every problem."""
        root = Path(folder)
        if not root.is_dir():
            raise RecordedCallError(root, [Problem(str(root), "no such folder")])
        problems = [
            Problem(name, "missing (every recorded call has it)")
            for name in REQUIRED
            if not (root / name).is_file()
        ]
        audio, rate = _audio(root / "caller.wav", problems)
        supervisor, supervisor_rate = _audio(root / "supervisor.wav", problems)
        reader = _Reader(root, problems)
        recorded = cls(
            folder=root,
            config_path=root / "call.json",
            audio=audio,
            sample_rate=rate,
            stt=reader.model("stt.json", SttScript),
            llm=reader.model("llm.json", LLMScript),
            http=reader.model("http.json", HttpScript),
            env=reader.model("env.json", _Env).root_strings(),
            caller=reader.model("caller.json", CallerScript),
            phone=reader.model("phone.json", PhoneScript),
            expect=reader.model("expect.json", Expectation),
            supervisor_audio=supervisor,
            supervisor_rate=supervisor_rate,
            supervisor_stt=reader.model("supervisor_stt.json", SttScript),
        )
        if problems:
            raise RecordedCallError(root, problems)
        return recorded


class _Env(BaseModel):
    """``env.json``: environment variables, names to values."""

    model_config = ConfigDict(extra="allow", frozen=True)

    def root_strings(self) -> dict[str, str]:
        return {str(k): str(v) for k, v in (self.model_extra or {}).items()}


class _Reader:
    """Reads a folder's JSON files into their models, collecting every problem."""

    def __init__(self, root: Path, problems: list[Problem]) -> None:
        self.root = root
        self.problems = problems

    def model(self, name: str, model: type[_M]) -> _M:
        path = self.root / name
        if not path.is_file():
            return model()
        try:
            data = json.loads(path.read_text())
        except UnicodeDecodeError:
            self.problems.append(Problem(name, "is not UTF-8 text"))
            return model()
        except json.JSONDecodeError as err:
            self.problems.append(
                Problem(name, f"is not JSON: {err.msg} (line {err.lineno}, column {err.colno})")
            )
            return model()
        try:
            return model.model_validate(data)
        except ValidationError as err:
            self.problems.extend(Problem(f"{name} {p.path}", p.reason) for p in problems_from(err))
            return model()


def _audio(path: Path, problems: list[Problem]) -> tuple[npt.NDArray[np.int16], int]:
    silence = np.zeros(0, dtype=np.int16)
    if not path.is_file():
        return silence, 16000
    try:
        data, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    except (soundfile.LibsndfileError, RuntimeError) as err:
        problems.append(Problem(path.name, f"is not readable audio ({err})"))
        return silence, 16000
    return np.ascontiguousarray(data[:, 0]), int(rate)
