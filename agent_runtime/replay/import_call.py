"""Turn a call that happened into a recorded call: ``agent-runtime import-call``.

The call is its folder: ``report.json`` and ``recording.wav`` (every call writes them) and,
when the call was captured (``AGENT_CAPTURE``), ``capture.json`` (the config, the runtime's own
sentences, the HTTP answers) and ``capture-caller.wav``. Without a capture the call config is
given separately.

- ``caller.wav``: the caller's audio from the answer on: as the call received it when captured
  (so the VAD and the end-of-turn model hear the same samples again), else the recording's
  caller channel;
- ``stt.json``: each captured final transcript, on the caller's speech before it and released
  when it came; without a capture, each caller row, timed by the caller's speech;
- ``llm.json``: each agent row the LLM wrote and each tool call, answering the caller row or
  the tool result before it (the runtime's own sentences are not LLM answers), and each
  captured answer the transcript does not show (the answering classifier's);
- ``http.json``: the captured HTTP answers; ``phone.json``: how the call was answered, the keys
  the caller pressed, how a transfer was answered; ``caller.json``: when the caller hung up;
- a warm transfer's colleague (``import_colleague``): ``phone.json`` ``consult``,
  ``supervisor.wav``, ``supervisor_stt.json`` and the consultation leg's answers in ``llm.json``;
- ``expect.json``: how the call ended, the transfer's outcome and every transcript row, as they
  happened.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import numpy as np
import soundfile
from pydantic import BaseModel, ValidationError

from ..call.keys import END_KEY, PAUSE, keys_turn
from ..call.options import FAILURE_LINE, HOLDING_LINE, RECOVERY_LINE, TRANSFER_LINE
from ..config.attempt import TranscriptRow
from ..config.base import problems_from
from ..config.loading import load_text
from ..errors import AgentRuntimeError, Problem
from ..report.capture import CAPTURE, CAPTURED_AUDIO, Capture, CapturedLLMAnswer
from ..report.model import CallReport
from .import_colleague import import_colleague

_M = TypeVar("_M", bound=BaseModel)
_KEYS_PREFIX = keys_turn("")
_KEY_GAP = 0.3
"""Seconds between two keys pressed (``phone.json``'s default)."""
_AFTER_AGENT_END = 5.0
"""Seconds the caller stays on the line after a call the agent ended."""


class CallImportError(AgentRuntimeError):
    """A call folder cannot be turned into a recorded call: what is missing or wrong."""

    def __init__(self, folder: Path, problems: list[Problem]) -> None:
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{folder} cannot be made into a recorded call:\n{lines}")


@dataclass(frozen=True)
class _Call:
    """What happened, read from the call's folder."""

    report: CallReport
    config: dict[str, Any]
    capture: Capture | None
    folder: Path
    recording: Path
    answer: float
    """Seconds from the call's start to its answer."""

    def at(self, index: int) -> float:
        """When transcript row ``index`` began, in seconds from the answer."""
        return self.report.runtime.transcript_at[index]


def import_call(folder: Path, out: Path, *, config: Path | None = None) -> list[str]:
    """Write the recorded call of the call in ``folder`` into ``out``; the files written."""
    call = _read(folder, config)
    rows = call.report.transcript or []
    fixed = set(call.capture.fixed_sentences) if call.capture else _default_sentences(call)
    out.mkdir(parents=True, exist_ok=True)
    hangup = _write_caller_audio(call, out / "caller.wav")
    written = ["caller.wav"]
    answers = _answers(rows, fixed) + _unseen_answers(call.capture)
    phone = _phone(call, rows)
    captured = call.capture.colleague if call.capture is not None else None
    colleague = import_colleague(call.report, captured, call.folder, out)
    if colleague is not None:
        phone["consult"] = colleague.consult
        answers += colleague.answers
        written += ["supervisor.wav"] if colleague.audio else []
    files: dict[str, Any] = {
        "call.json": call.config,
        "stt.json": {"utterances": _utterances(call, rows)},
        "llm.json": {"answers": answers},
        "caller.json": {"hangup_at": hangup},
        "phone.json": phone,
        "expect.json": _expect(call.report, rows),
        **(colleague.files if colleague is not None else {}),
    }
    if call.capture is not None and call.capture.http:
        files["http.json"] = {
            "answers": [e.model_dump(by_alias=True, exclude_none=True) for e in call.capture.http]
        }
    for name, content in files.items():
        (out / name).write_text(json.dumps(content, indent=2, ensure_ascii=False) + "\n")
    return [*written, *files]


def _read(folder: Path, config_path: Path | None) -> _Call:
    problems: list[Problem] = []
    report = _model(folder / "report.json", CallReport, problems)
    capture = _model(folder / CAPTURE, Capture, problems) if (folder / CAPTURE).is_file() else None
    recording = folder / "recording.wav"
    if not recording.is_file():
        problems.append(Problem("recording.wav", "missing (the call's recording)"))
    config: dict[str, Any] | None = capture.call if capture is not None else None
    if config_path is not None:
        try:
            config = json.loads(config_path.read_text())
        except (OSError, ValueError) as err:
            problems.append(Problem(str(config_path), f"cannot be read ({err})"))
    elif capture is None:
        problems.append(Problem(CAPTURE, "missing: give the call's config with --call"))
    if report is not None and len(report.runtime.transcript_at) != len(report.transcript or []):
        problems.append(Problem("report.json $.runtime.transcript_at", "has no time per row"))
    if problems or report is None or config is None:
        raise CallImportError(folder, problems)
    load_text(json.dumps(config), source="the call config")  # a config replay can run
    started, answered = report.started_at, report.answered_at
    answer = (answered - started).total_seconds() if started and answered else 0.0
    return _Call(report, config, capture, folder, recording, answer)


def _model(path: Path, model: type[_M], problems: list[Problem]) -> _M | None:
    if not path.is_file():
        problems.append(Problem(path.name, "missing"))
        return None
    try:
        return model.model_validate_json(path.read_bytes())
    except ValidationError as err:
        problems.extend(Problem(f"{path.name} {p.path}", p.reason) for p in problems_from(err))
        return None


def _default_sentences(call: _Call) -> set[str]:
    spec = load_text(json.dumps(call.config), source="the call config")
    said = [spec.end_of_call_sentence, spec.max_duration_end_message, spec.voicemail_message]
    if spec.assistant.first_sentence_mode == "static":
        said.append(spec.first_sentence)
    lines = [RECOVERY_LINE, FAILURE_LINE, HOLDING_LINE, TRANSFER_LINE]
    return {s for s in [*said, *lines] if s}


def _segments(call: _Call) -> list[tuple[float, float]]:
    """The caller's speech, in seconds from the answer."""
    speech = call.report.runtime.speech
    return [(s.start - call.answer, s.end - call.answer) for s in speech if s.role == "user"]


def _utterances(call: _Call, rows: list[TranscriptRow]) -> list[dict[str, Any]]:
    if call.capture is not None and call.capture.stt:
        return _captured_utterances(call, call.capture)
    return _row_utterances(call, rows)


def _captured_utterances(call: _Call, capture: Capture) -> list[dict[str, Any]]:
    """Each captured final transcript, on the speech it followed, released when it came."""
    segments = _segments(call)
    utterances: list[dict[str, Any]] = []
    previous = float("-inf")
    for final in capture.stt:
        at = final.at - call.answer
        heard = [(start, end) for start, end in segments if previous < end <= at + 0.01]
        start = min((s for s, _ in heard), default=max(0.0, at - 1.0))
        end = max((e for _, e in heard), default=max(start, at - 0.25))
        utterances.append(
            {
                "start": round(start, 3),
                "end": round(end, 3),
                "text": final.text,
                "delay": round(max(0.0, at - end), 3),
            }
        )
        previous = at
    return utterances


def _row_utterances(call: _Call, rows: list[TranscriptRow]) -> list[dict[str, Any]]:
    """Caller rows timed by the caller's speech segments (no captured transcripts)."""
    segments = _segments(call)
    utterances: list[dict[str, Any]] = []
    for index, row in enumerate(rows):
        if row.role != "user" or row.content.startswith(_KEYS_PREFIX):
            continue
        began = call.at(index)
        until = call.at(index + 1) if index + 1 < len(rows) else float("inf")
        ends = [end for start, end in segments if began - 0.05 <= start < until]
        end = max(ends, default=began + 0.5)
        utterances.append({"start": round(began, 3), "end": round(end, 3), "text": row.content})
    return utterances


def _answers(rows: list[TranscriptRow], fixed: set[str]) -> list[dict[str, Any]]:
    """The LLM's answers: each agent row it wrote and each tool call, with what they follow."""
    answers: list[dict[str, Any]] = []
    when: dict[str, Any] = {"greeting": True}
    current: dict[str, Any] | None = None
    for row in rows:
        if row.role == "user":
            when, current = {"user_contains": row.content}, None
        elif row.role == "assistant" and row.content not in fixed:
            current = {"when": when, "text": row.content}
            answers.append(current)
        elif row.role == "tool" and row.tool_name:
            arguments = row.tool_arguments if isinstance(row.tool_arguments, dict) else {}
            call = {"name": row.tool_name, "arguments": arguments}
            if current is not None and current["when"] == when:
                current.setdefault("tool_calls", []).append(call)  # text, then its tool call
            else:
                current = {"when": when, "tool_calls": [call]}
                answers.append(current)
            when = {"after_tool": row.tool_name}
    return answers


def _unseen_answers(capture: Capture | None) -> list[dict[str, Any]]:
    """The captured answers no transcript row shows, each for the words it was asked about."""
    return [_unseen(answer) for answer in capture.llm] if capture is not None else []


def _unseen(answer: CapturedLLMAnswer) -> dict[str, Any]:
    scripted: dict[str, Any] = {"when": {"offers_tool": answer.tool, "user_contains": answer.user}}
    if answer.hang:
        scripted["hang"] = True
        return scripted
    scripted["ttft"] = answer.seconds
    if answer.status is not None:
        scripted["status"] = answer.status
    else:
        if answer.text:
            scripted["text"] = answer.text
        scripted["tool_calls"] = [c.model_dump() for c in answer.tool_calls]
    return scripted


def _phone(call: _Call, rows: list[TranscriptRow]) -> dict[str, Any]:
    phone: dict[str, Any] = {}
    report = call.report
    if report.runtime.direction == "outbound":
        phone["dial"] = {"ring": round(call.answer, 3)}
    keys = [
        _pressed(call.at(i), row.content[len(_KEYS_PREFIX) :])
        for i, row in enumerate(rows)
        if row.role == "user" and row.content.startswith(_KEYS_PREFIX)
    ]
    if keys:
        phone["keys"] = keys
    for event in report.runtime.events:
        if event.type == "transfer" and event.detail.get("mode") != "warm":
            detail = event.detail
            phone["transfer"] = {
                "accepted": detail.get("outcome") == "transferred",
                "after": detail.get("seconds", 2.0),
                **({"sip_status": detail["sip_status"]} if detail.get("sip_status") else {}),
            }
    return phone


def _pressed(turn_at: float, keys: str) -> dict[str, Any]:
    """Keys that made a turn at ``turn_at``, the first pressed before it.

    By their gaps and the pause that ends a turn (none after ``#``).
    """
    pause = 0.0 if keys.endswith(END_KEY) else PAUSE
    first = turn_at - pause - _KEY_GAP * (len(keys) - 1)
    return {"at": round(max(0.0, first), 3), "keys": keys, "gap": _KEY_GAP}


def _write_caller_audio(call: _Call, path: Path) -> float:
    """The caller's audio from the answer on; returns when the caller hung up.

    The captured audio when there is some (as the call received it), else the recording's
    caller channel (resampled to the recording's rate).
    """
    captured = call.folder / CAPTURED_AUDIO
    if call.capture is not None and call.capture.audio_at is not None and captured.is_file():
        audio, rate = soundfile.read(str(captured), dtype="int16", always_2d=True)
        lead = int(round((call.capture.audio_at - call.answer) * rate))
        silence = np.zeros((max(0, lead), audio.shape[1]), dtype=np.int16)
        audio = np.concatenate([silence, audio[max(0, -lead) :]])
    else:
        audio, rate = soundfile.read(str(call.recording), dtype="int16", always_2d=True)
        audio = audio[int(call.answer * rate) :]
    soundfile.write(str(path), np.ascontiguousarray(audio[:, 0]), rate)
    duration = (call.report.runtime.duration or 0.0) - call.answer
    left = [e.at for e in call.report.runtime.events if e.type == "caller_hung_up"]
    if call.report.ended_by == "user":
        return round(duration, 3)
    if left:  # the caller left a call the agent had handed over (a warm transfer)
        return round(left[0] - call.answer, 3)
    return round(duration + _AFTER_AGENT_END, 3)


def _expect(report: CallReport, rows: list[TranscriptRow]) -> dict[str, Any]:
    expected: list[dict[str, Any]] = []
    for row in rows:
        if row.role == "tool":
            entry: dict[str, Any] = {"role": "tool", "tool_name": row.tool_name}
            if isinstance(row.tool_arguments, dict) and row.tool_arguments:
                entry["tool_arguments"] = row.tool_arguments
            expected.append(entry)
        else:
            expected.append({"role": row.role, "content": row.content})
    expect: dict[str, Any] = {
        "ended_by": report.ended_by,
        "end_reason": report.end_reason,
        "status": report.status,
        "result": report.result,
    }
    transfers = [e.detail.get("outcome") for e in report.runtime.events if e.type == "transfer"]
    if transfers:
        expect["transfer"] = transfers[-1]
    return {**expect, "transcript": expected}
