"""Make a recorded call from a script: what the caller says, and what the agent should answer.

The caller's text lines are spoken by espeak-ng (or given as WAV files), placed on a timeline
that leaves the agent room to answer, mixed with line noise, band-limited to 300-3400 Hz and
encoded as 8 kHz mu-law, as a phone line delivers them. The transcripts are timed from the
audio; the agent's lines become the LLM's recorded answers and, with the tool calls, the
``expect.json`` of the call. A warm transfer's colleague (``colleague``) is placed on their
own timeline by ``colleague_script``. The script format is documented in ``docs/replay.md``.
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

from ..call.options import TRANSFER_LINE, TRANSFER_RING_TIMEOUT
from ..config.base import problems_from
from ..config.loading import load_text
from ..config.spec import CallSpec
from ..errors import AgentRuntimeError, Problem
from ..offline_tts import SAMPLE_RATE, espeak_available, espeak_voice
from .colleague_script import Colleague, ColleagueLine, Leg, build_leg

TRANSFER_TOOL = "transfer_to_human"

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
    colleague: Colleague | None = Field(
        default=None, description="The colleague a warm transfer calls, and their leg."
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
    last_words: str | None = None
    """The caller's last words so far."""
    after_tool: str | None = None
    """The tool whose result the next answer follows."""
    open_answer: dict[str, Any] | None = None
    """The answer an agent line just wrote: a tool line right after it joins it."""
    leg: Leg | None = None
    """The colleague's leg, once the warm transfer is placed."""
    transfer_end: float | None = None
    """When the warm transfer's outcome is expected, until the agent speaks again."""


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
    try:
        return _make(script, script_path, folder)
    except ScriptError as err:
        raise ScriptError(str(script_path), err.problems) from None


def _make(script: CallScript, script_path: Path, folder: Path) -> list[str]:
    base = script_path.parent
    config = _config(script.call, base, str(script_path))
    spec = load_text(json.dumps(config), source="call")
    timeline = _Timeline()
    _greeting(spec, script, timeline)
    _check_warm(spec, script)
    for index, line in enumerate(script.lines):
        where = f"$.lines[{index}]"
        if line.caller is not None:
            _caller(line, line.caller, script, base, timeline, where)
        elif line.tool is not None:
            _tool(line.tool, line.arguments, timeline, where)
            if line.tool == TRANSFER_TOOL and script.colleague is not None:
                _warm_transfer(script, script.colleague, base, timeline)
        elif line.agent is not None:
            _agent(line.agent, script, timeline, where)
    connected = timeline.leg is not None and timeline.leg.outcome == "connected"
    if timeline.transfer_end is not None and not connected:
        problem = Problem("$.lines", "nobody took the call: the agent comes back to the caller")
        raise ScriptError("script", [problem])
    last = script.lines[-1]
    ends_with_end_call = last.tool == "end_call"
    hangup_at = timeline.agent_free_at + (30.0 if ends_with_end_call else script.hangup_after)
    expect: dict[str, Any] = {
        "ended_by": "agent" if ends_with_end_call else "user",
        "end_reason": "tool_end_call" if ends_with_end_call else "user_hangup",
        "transcript": timeline.rows,
    }
    if connected and timeline.transfer_end is not None:
        ends = (timeline.transfer_end, timeline.caller_end)
        hangup_at = max(ends) + script.hangup_after
        expect.update(ended_by="agent", end_reason="transfer", status="completed")
    if timeline.leg is not None:
        expect["transfer"] = timeline.leg.outcome
    if ends_with_end_call and spec.assistant.end_of_call_sentence:
        expect["transcript"] = [
            *timeline.rows,
            {"role": "assistant", "content": spec.assistant.end_of_call_sentence},
        ]
    folder.mkdir(parents=True, exist_ok=True)
    _write_audio(timeline.audio, hangup_at, folder / "caller.wav", seed=len(timeline.utterances))
    written = ["caller.wav"]
    files: dict[str, Any] = {
        "call.json": config,
        "stt.json": {"utterances": timeline.utterances},
        "llm.json": {"answers": timeline.answers},
        "caller.json": {"hangup_at": round(hangup_at, 3)},
        "expect.json": expect,
    }
    leg, colleague = timeline.leg, script.colleague
    if leg is not None and colleague is not None:
        files["phone.json"] = {"consult": leg.consult(colleague)}
        if leg.answered:
            files["supervisor_stt.json"] = {"utterances": leg.utterances}
            length = max(leg.end, leg.decided_at, leg.hangup_at or 0.0) + 2.0
            _write_audio(leg.audio, length, folder / "supervisor.wav", seed=len(leg.audio) + 1)
            written.append("supervisor.wav")
    for name, content in files.items():
        (folder / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    return [*written, *files]


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


def _check_warm(spec: CallSpec, script: CallScript) -> None:
    """A script with a colleague has a warm transfer for them to answer, and the reverse."""
    if script.colleague is None:
        warm = spec.assistant.transfer_mode == "warm"
        if warm and any(line.tool == TRANSFER_TOOL for line in script.lines):
            reason = "a warm transfer needs `colleague`: how the colleague answered"
            raise ScriptError("script", [Problem("$.colleague", reason)])
        return
    problems: list[Problem] = []
    if spec.assistant.transfer_mode != "warm" or not spec.assistant.transfer_phone_number:
        reason = "the call config needs transfer_phone_number and human_transfer_mode warm"
        problems.append(Problem("$.colleague", reason))
    if [line.tool for line in script.lines].count(TRANSFER_TOOL) != 1:
        problems.append(Problem("$.lines", f"a colleague answers one `{TRANSFER_TOOL}` line"))
    if script.colleague.voice == script.caller_voice:
        problems.append(Problem("$.colleague.voice", "the colleague's voice is the caller's"))
    if problems:
        raise ScriptError("script", problems)


def _warm_transfer(
    script: CallScript, colleague: Colleague, base: Path, timeline: _Timeline
) -> None:
    """Place the consultation: the transfer line, the ring, the colleague's leg, the outcome."""
    timeline.rows.insert(len(timeline.rows) - 1, {"role": "assistant", "content": TRANSFER_LINE})
    dialled = timeline.agent_free_at + _spoken_seconds(TRANSFER_LINE)

    def speak(line: ColleagueLine, at: str) -> npt.NDArray[np.float32]:
        text = line.colleague or ""
        return _wav(base / line.wav, at) if line.wav else _speak(text, colleague.voice, at)

    leg, problems = build_leg(
        colleague,
        ring_timeout=TRANSFER_RING_TIMEOUT,
        answer_time=script.answer_time,
        spoken=_spoken_seconds,
        speak=speak,
    )
    if problems:
        raise ScriptError("script", problems)
    answered = colleague.ring if leg.answered else 0.0
    timeline.leg = leg
    timeline.answers.extend(leg.answers)
    timeline.agent_free_at = dialled
    timeline.transfer_end = dialled + answered + leg.decided_at + 1.0


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
    timeline.heard, timeline.after_tool, timeline.open_answer = text, None, None
    timeline.last_words = text
    timeline.agent_free_at = timeline.caller_end = end
    if timeline.transfer_end is not None and end > timeline.transfer_end - 1.0:
        decided = f"{timeline.transfer_end - 1.0:.1f} s"
        problem = Problem(where, f"said on hold after the colleague decides (about {decided})")
        raise ScriptError("script", [problem])


def _when(timeline: _Timeline, where: str) -> dict[str, Any]:
    if timeline.after_tool is not None:
        return {"after_tool": timeline.after_tool}
    if timeline.heard is not None:
        return {"user_contains": timeline.heard}
    if timeline.rows:
        raise ScriptError("script", [Problem(where, "the agent speaks twice without a turn")])
    return {"greeting": True}


def _tool(name: str, arguments: dict[str, Any], timeline: _Timeline, where: str) -> None:
    """A tool call: joined to the agent line just before it (one answer), else its own."""
    _after_transfer(timeline, where)
    call = {"name": name, "arguments": arguments} if arguments else {"name": name}
    if timeline.open_answer is not None:
        timeline.open_answer.setdefault("tool_calls", []).append(call)
    else:
        timeline.answers.append({"when": _when(timeline, where), "tool_calls": [call]})
    row: dict[str, Any] = {"role": "tool", "tool_name": name}
    if arguments:
        row["tool_arguments"] = arguments
    timeline.rows.append(row)
    timeline.heard, timeline.after_tool, timeline.open_answer = None, name, None


def _agent(text: str, script: CallScript, timeline: _Timeline, where: str) -> None:
    _after_transfer(timeline, where)
    answer = {"when": _when(timeline, where), "text": text}
    timeline.answers.append(answer)
    timeline.rows.append({"role": "assistant", "content": text})
    timeline.agent_free_at += script.answer_time + _spoken_seconds(text)
    timeline.heard = timeline.after_tool = None
    timeline.open_answer = answer


def _after_transfer(timeline: _Timeline, where: str) -> None:
    """The agent speaks again after a warm transfer: only when nobody took the call."""
    if timeline.transfer_end is None or timeline.leg is None:
        return
    if timeline.leg.outcome == "connected":
        raise ScriptError(
            "script", [Problem(where, "the colleague took the call: the agent is done")]
        )
    timeline.agent_free_at = max(timeline.agent_free_at, timeline.transfer_end)
    timeline.transfer_end = None
    if timeline.after_tool == TRANSFER_TOOL:  # coming back is a request on the caller's words
        timeline.heard, timeline.after_tool = timeline.last_words, None


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


def _write_audio(
    placed: list[tuple[float, npt.NDArray[np.float32]]], length: float, path: Path, *, seed: int
) -> None:
    """A side of the line: speech on line noise, 300-3400 Hz, 8 kHz mu-law."""
    rng = np.random.default_rng(seed)
    signal = rng.normal(0, 10 ** (NOISE_DBFS / 20), int(length * SAMPLE_RATE)).astype(np.float32)
    for start, audio in placed:
        first = int(start * SAMPLE_RATE)
        piece = audio[: max(0, signal.size - first)]
        signal[first : first + piece.size] += 0.7 * piece
    spectrum = np.fft.rfft(signal)
    frequencies = np.fft.rfftfreq(signal.size, 1 / SAMPLE_RATE)
    spectrum[(frequencies < 300) | (frequencies > 3400)] = 0
    band = np.fft.irfft(spectrum, n=signal.size).astype(np.float32)
    line = np.clip(_resample(band, SAMPLE_RATE, LINE_RATE), -1, 1)
    soundfile.write(str(path), line, LINE_RATE, subtype="ULAW")
