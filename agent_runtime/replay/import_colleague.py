"""The colleague of a warm transfer in an imported call (``agent-runtime import-call``).

From the report's ``transfer`` event (how the colleague answered, when, how it ended) and the
capture's ``colleague`` (their audio, transcripts, keys, the consultation LLM's answers):
``phone.json`` ``consult``, ``supervisor.wav``, ``supervisor_stt.json`` and the leg's answers
of ``llm.json``, all timed from the colleague's answer as a recorded call has them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import soundfile

from ..call.options import TRANSFER_RING_TIMEOUT
from ..report.capture import CAPTURED_COLLEAGUE_AUDIO, CapturedColleague
from ..report.model import CallEvent, CallReport
from .colleague_script import BRIEFING_TOOL

_UNANSWERED_RING = TRANSFER_RING_TIMEOUT + 15.0
"""The ring of a colleague who never answered before the call ended: past any timeout."""
_SPEECH = 1.0
"""Seconds of speech placed before a captured transcript of the colleague."""
_STT_DELAY = 0.25


@dataclass
class ColleagueFiles:
    """What the recorded call holds of the colleague."""

    consult: dict[str, Any]
    answers: list[dict[str, Any]] = field(default_factory=list)
    files: dict[str, Any] = field(default_factory=dict)
    """JSON files by name (``supervisor_stt.json``)."""
    audio: bool = False
    """``supervisor.wav`` was written."""


def warm_transfer(report: CallReport) -> CallEvent | None:
    """The report's last warm ``transfer`` event, if the call had one."""
    events = [e for e in report.runtime.events if e.type == "transfer"]
    if not events or events[-1].detail.get("mode") != "warm":
        return None
    return events[-1]


def import_colleague(
    report: CallReport, colleague: CapturedColleague | None, folder: Path, out: Path
) -> ColleagueFiles | None:
    """The colleague's files of a call with a warm transfer (None: it had none).

    ``folder`` is the call's (its captured colleague audio), ``out`` the recorded call's.
    """
    event = warm_transfer(report)
    if event is None:
        return None
    detail = event.detail
    answered_at = detail.get("answered_at")
    if not isinstance(answered_at, int | float):
        return ColleagueFiles(_not_answered(event))
    consult: dict[str, Any] = {"ring": detail.get("ring_seconds") or 0.0}
    hangup = _hangup(report, event)
    if hangup is not None:
        consult["hangup_at"] = round(max(0.0, hangup - answered_at), 3)
    if colleague is None:
        return ColleagueFiles(consult)
    if colleague.keys:
        consult["keys"] = [
            {"at": round(max(0.0, k.at - answered_at), 3), "keys": k.key} for k in colleague.keys
        ]
    imported = ColleagueFiles(consult, answers=_answers(colleague))
    imported.files["supervisor_stt.json"] = {"utterances": _utterances(colleague, answered_at)}
    imported.audio = _write_audio(colleague, answered_at, folder, out / "supervisor.wav")
    return imported


def _not_answered(event: CallEvent) -> dict[str, Any]:
    """``consult`` of a colleague who never answered: the ring, the SIP refusal if any."""
    detail = event.detail
    seconds = float(detail.get("seconds") or 0.0)
    consult: dict[str, Any] = {"ring": round(seconds, 3), "answered": False}
    if isinstance(detail.get("sip_status"), int):
        consult["sip_status"] = detail["sip_status"]
    elif detail.get("outcome") in ("no_answer", "cancelled"):
        consult["ring"] = max(seconds, _UNANSWERED_RING)
    return consult


def _hangup(report: CallReport, transfer: CallEvent) -> float | None:
    """When the colleague hung up, in seconds from the call's start (None: they did not)."""
    if transfer.detail.get("decided_by") == "line":
        return transfer.at
    left = [e.at for e in report.runtime.events if e.type == "colleague_hung_up"]
    return left[0] if left else None


def _answers(colleague: CapturedColleague) -> list[dict[str, Any]]:
    """The consultation LLM's answers, each for the colleague's words before it."""
    answers: list[dict[str, Any]] = []
    for captured in colleague.llm:
        when: dict[str, Any] = (
            {"greeting": True} if captured.after is None else {"user_contains": captured.after}
        )
        answer: dict[str, Any] = {"when": {**when, "offers_tool": BRIEFING_TOOL}}
        if captured.text:
            answer["text"] = captured.text
        if captured.tool_calls:
            answer["tool_calls"] = [c.model_dump() for c in captured.tool_calls]
        answers.append(answer)
    return answers


def _utterances(colleague: CapturedColleague, answered_at: float) -> list[dict[str, Any]]:
    """Each captured transcript of the colleague, released when it came."""
    utterances: list[dict[str, Any]] = []
    previous = 0.0
    for final in colleague.stt:
        at = final.at - answered_at
        end = max(0.0, at - _STT_DELAY)
        start = max(previous, end - _SPEECH)
        utterances.append(
            {
                "start": round(start, 3),
                "end": round(end, 3),
                "text": final.text,
                "delay": round(at - end, 3),
            }
        )
        previous = at
    return utterances


def _write_audio(
    colleague: CapturedColleague, answered_at: float, folder: Path, path: Path
) -> bool:
    """Their captured audio from their answer on, as ``supervisor.wav``; False: none was kept."""
    captured = folder / CAPTURED_COLLEAGUE_AUDIO
    if colleague.audio_at is None or not captured.is_file():
        return False
    audio, rate = soundfile.read(str(captured), dtype="int16", always_2d=True)
    lead = int(round((colleague.audio_at - answered_at) * rate))
    silence = np.zeros((max(0, lead), audio.shape[1]), dtype=np.int16)
    audio = np.concatenate([silence, audio[max(0, -lead) :]])
    soundfile.write(str(path), np.ascontiguousarray(audio[:, 0]), rate)
    return True
