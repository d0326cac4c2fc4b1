"""Make a recorded call from a script: what the caller says, and what the agent should answer.

The caller's text lines are spoken by espeak-ng (or given as WAV files), placed on a timeline
that leaves the agent room to answer, mixed with line noise, band-limited to 300-3400 Hz and
encoded as 8 kHz mu-law, as a phone line delivers them. The transcripts are timed from the
audio; the agent's lines become the LLM's recorded answers and, with the tool calls, the
``expect.json`` of the call. The script format is documented in ``docs/replay.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from ..config.base import problems_from
from ..config.loading import load_text
from ..config.spec import CallSpec
from ..errors import AgentRuntimeError, Problem
from ..offline_tts import SAMPLE_RATE, espeak_available, espeak_voice

LINE_RATE = 8000
NOISE_DBFS = -52.0
_SPEECH_LEVEL = 0.02
"""Samples quieter than this (full scale 1.0) before the first and after the last loud one are
trimmed from a WAV line: its transcript is timed from its speech, not its file."""


class Line(BaseModel):
    """One line of the script: the caller speaks, the agent answers, or the agent calls a tool."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    caller: str | None = Field(default=None, description="What the caller says (its transcript).")
    wav: str | None = Field(
        default=None, description="The caller's line as a WAV file (relative to the script)."
    )
    pause: float = Field(default=1.0, ge=0, description="Seconds of silence before the line.")
    agent: str | None = Field(default=None, description="What the agent answers, word for word.")
    tool: str | None = Field(default=None, description="A tool the agent calls.")
    arguments: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _one_kind(self) -> Line:
        kinds = [k for k in ("caller", "agent", "tool") if getattr(self, k) is not None]
        if len(kinds) != 1:
            raise ValueError("each line has exactly one of caller, agent or tool")
        if self.wav is not None and self.caller is None:
            raise ValueError("a wav line needs `caller`: what is said in it")
        return self


class CallScript(BaseModel):
    """A script of a call, to make a recorded call from."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    call: str | dict[str, Any] = Field(
        description="The call config: a path relative to the script, or the document itself."
    )
    lines: list[Line] = Field(min_length=1)
    caller_voice: str = Field(default="en-gb+f3", description="The espeak-ng voice of the caller.")
    answer_time: float = Field(
        default=4.0, gt=0, description="Seconds the agent is given to start each answer."
    )
    hangup_after: float = Field(
        default=3.0,
        ge=0,
        description="Seconds after the agent's last line until the caller hangs up.",
    )


class ScriptError(AgentRuntimeError):
    """A call script cannot be made into a recorded call: every problem, with its path."""

    def __init__(self, source: str, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source} cannot be made into a recorded call:\n{lines}")


@dataclass
class _Timeline:
    """The caller's audio being placed, and what the recorded call will hold."""

    audio: list[tuple[float, npt.NDArray[np.float32]]] = field(default_factory=list)
    utterances: list[dict[str, Any]] = field(default_factory=list)
    answers: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    agent_free_at: float = 0.0
    """When the agent is expected to be done speaking."""
    caller_end: float = 0.0
    """When the caller's last line ends."""
    heard: str | None = None
    """The caller's words the next answer follows."""
    after_tool: str | None = None
    """The tool whose result the next answer follows."""


def load_script(path: Path) -> CallScript:
    """Read and check a call script."""
    try:
        return CallScript.model_validate_json(path.read_bytes())
    except OSError as err:
        raise ScriptError(str(path), [Problem(str(path), err.strerror or str(err))]) from None
    except ValidationError as err:
        raise ScriptError(str(path), problems_from(err)) from None


def make_recorded_call(script_path: Path, folder: Path) -> list[str]:
    """Write the recorded call of the script at ``script_path`` into ``folder``.

    Returns the names of the files written.
    """
    script = load_script(script_path)
    base = script_path.parent
    config = _config(script.call, base, str(script_path))
    spec = load_text(json.dumps(config), source="call")
    timeline = _Timeline()
    _greeting(spec, script, timeline)
    for index, line in enumerate(script.lines):
        where = f"$.lines[{index}]"
        if line.caller is not None:
            _caller(line, line.caller, script, base, timeline, where)
        elif line.tool is not None:
            _tool(line.tool, line.arguments, timeline, where)
        elif line.agent is not None:
            _agent(line.agent, script, timeline, where)
    last = script.lines[-1]
    ends_with_end_call = last.tool == "end_call"
    hangup_at = timeline.agent_free_at + (30.0 if ends_with_end_call else script.hangup_after)
    expect: dict[str, Any] = {
        "ended_by": "agent" if ends_with_end_call else "user",
        "end_reason": "tool_end_call" if ends_with_end_call else "user_hangup",
        "transcript": timeline.rows,
    }
    if ends_with_end_call and spec.assistant.end_of_call_sentence:
        expect["transcript"] = [
            *timeline.rows,
            {"role": "assistant", "content": spec.assistant.end_of_call_sentence},
        ]
    folder.mkdir(parents=True, exist_ok=True)
    _write_audio(timeline, hangup_at, folder / "caller.wav")
    files = {
        "call.json": config,
        "stt.json": {"utterances": timeline.utterances},
        "llm.json": {"answers": timeline.answers},
        "caller.json": {"hangup_at": round(hangup_at, 3)},
        "expect.json": expect,
    }
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    return ["caller.wav", *files]


def _config(call: str | dict[str, Any], base: Path, source: str) -> dict[str, Any]:
    if isinstance(call, dict):
        return call
    path = base / call
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as err:
        raise ScriptError(source, [Problem("$.call", f"{path} cannot be read ({err})")]) from None
    if not isinstance(data, dict):
        raise ScriptError(source, [Problem("$.call", f"{path} does not hold a JSON object")])
    return data


def _greeting(spec: CallSpec, script: CallScript, timeline: _Timeline) -> None:
    """Place the greeting: the config's static sentence, or the script's first agent line."""
    mode = spec.assistant.first_sentence_mode
    delay = spec.assistant.first_sentence_delay_ms / 1000
    first = script.lines[0]
    if mode == "static" and spec.first_sentence:
        timeline.rows.append({"role": "assistant", "content": spec.first_sentence})
        timeline.agent_free_at = delay + _spoken_seconds(spec.first_sentence) + 0.5
        if first.agent is not None:
            raise ScriptError(
                "script",
                [Problem("$.lines[0]", "the greeting is the config's static first_sentence")],
            )
    elif mode == "generated" and first.agent is None:
        raise ScriptError(
            "script",
            [Problem("$.lines[0]", "a generated greeting: the first line is the agent's")],
        )


def _caller(
    line: Line,
    text: str,
    script: CallScript,
    base: Path,
    timeline: _Timeline,
    where: str,
) -> None:
    audio = _wav(base / line.wav, where) if line.wav else _speak(text, script.caller_voice, where)
    start = max(timeline.agent_free_at, timeline.caller_end) + line.pause
    end = start + audio.size / SAMPLE_RATE
    timeline.audio.append((start, audio))
    timeline.utterances.append({"start": round(start, 3), "end": round(end, 3), "text": text})
    timeline.rows.append({"role": "user", "content": text})
    timeline.heard, timeline.after_tool = text, None
    timeline.agent_free_at = timeline.caller_end = end


def _when(timeline: _Timeline, where: str) -> dict[str, Any]:
    if timeline.after_tool is not None:
        return {"after_tool": timeline.after_tool}
    if timeline.heard is not None:
        return {"user_contains": timeline.heard}
    if timeline.rows:
        raise ScriptError("script", [Problem(where, "the agent speaks twice without a turn")])
    return {"greeting": True}


def _tool(name: str, arguments: dict[str, Any], timeline: _Timeline, where: str) -> None:
    call = {"name": name, "arguments": arguments} if arguments else {"name": name}
    timeline.answers.append({"when": _when(timeline, where), "tool_calls": [call]})
    row: dict[str, Any] = {"role": "tool", "tool_name": name}
    if arguments:
        row["tool_arguments"] = arguments
    timeline.rows.append(row)
    timeline.heard, timeline.after_tool = None, name


def _agent(text: str, script: CallScript, timeline: _Timeline, where: str) -> None:
    timeline.answers.append({"when": _when(timeline, where), "text": text})
    timeline.rows.append({"role": "assistant", "content": text})
    timeline.agent_free_at += script.answer_time + _spoken_seconds(text)
    timeline.heard = timeline.after_tool = None


def _spoken_seconds(text: str) -> float:
    """How long the agent takes to say ``text``: at the offline voice's pace, with a margin."""
    words = len(text.split())
    return words * 60 / 150 + 0.5


def _speak(text: str, voice: str, where: str) -> npt.NDArray[np.float32]:
    if not espeak_available():
        raise ScriptError(
            "script",
            [Problem(where, "espeak-ng speaks text lines: install it, or give a `wav` file")],
        )
    return _trim((espeak_voice(text, voice=voice) / 32768).astype(np.float32))


def _wav(path: Path, where: str) -> npt.NDArray[np.float32]:
    try:
        data, rate = soundfile.read(str(path), dtype="float32", always_2d=True)
    except (soundfile.LibsndfileError, OSError, RuntimeError) as err:
        raise ScriptError("script", [Problem(f"{where}.wav", f"{path}: {err}")]) from None
    mono = np.asarray(data.mean(axis=1), dtype=np.float32)
    if rate != SAMPLE_RATE:
        mono = _resample(mono, rate, SAMPLE_RATE)
    trimmed = _trim(mono)
    if trimmed.size == 0:
        raise ScriptError("script", [Problem(f"{where}.wav", f"{path}: no speech in it")])
    return trimmed


def _trim(audio: npt.NDArray[np.float32]) -> npt.NDArray[np.float32]:
    loud = np.flatnonzero(np.abs(audio) > _SPEECH_LEVEL)
    return audio[loud[0] : loud[-1] + 1] if loud.size else audio[:0]


def _resample(audio: npt.NDArray[Any], rate: int, to: int) -> npt.NDArray[np.float32]:
    positions = np.arange(int(audio.size * to / rate)) * rate / to
    resampled: npt.NDArray[np.float32] = np.interp(positions, np.arange(audio.size), audio).astype(
        np.float32
    )
    return resampled


def _write_audio(timeline: _Timeline, length: float, path: Path) -> None:
    """The caller's side of the line: speech on line noise, 300-3400 Hz, 8 kHz mu-law."""
    rng = np.random.default_rng(len(timeline.utterances))
    signal = rng.normal(0, 10 ** (NOISE_DBFS / 20), int(length * SAMPLE_RATE)).astype(np.float32)
    for start, audio in timeline.audio:
        first = int(start * SAMPLE_RATE)
        piece = audio[: max(0, signal.size - first)]
        signal[first : first + piece.size] += 0.7 * piece
    spectrum = np.fft.rfft(signal)
    frequencies = np.fft.rfftfreq(signal.size, 1 / SAMPLE_RATE)
    spectrum[(frequencies < 300) | (frequencies > 3400)] = 0
    band = np.fft.irfft(spectrum, n=signal.size).astype(np.float32)
    line = np.clip(_resample(band, SAMPLE_RATE, LINE_RATE), -1, 1)
    soundfile.write(str(path), line, LINE_RATE, subtype="ULAW")
