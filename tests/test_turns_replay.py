"""Turn-taking on recorded calls replayed through the runtime (virtual clock, real VAD and
end-of-turn model): pauses are waited through, backchannels do not stop the agent, a silent
caller is prompted and then let go."""

from __future__ import annotations

import functools
import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import soundfile

from agent_runtime.call.guards.idle import GOODBYE_LINE, PROMPT_LINE
from agent_runtime.call.session import TurnOptions
from agent_runtime.replay.run import ReplayResult, run_replay
from agent_runtime.turns.words import Verdict, read

from .conftest import FIXTURES, ROOT
from .replays import agent_segments

BENCH_CALLS = ROOT / "bench" / "calls"
CUT_OFF_GRACE = 0.2
"""Agent audio this soon after the caller starts is not talking over them (the issue's rule)."""


@functools.cache
def replayed(folder: str) -> ReplayResult:
    output = Path(tempfile.mkdtemp(prefix="replay-turns-"))
    return run_replay(folder, fast=True, output_dir=output)


def caller_turns(folder: Path) -> list[tuple[float, float]]:
    """(start, end) of each recorded caller turn, in seconds into ``caller.wav``."""
    utterances = json.loads((folder / "stt.json").read_text())["utterances"]
    turns = json.loads((folder / "turns.json").read_text())["turns"]
    return [(utterances[t[0]]["start"], utterances[t[-1]]["end"]) for t in turns]


@pytest.mark.parametrize("call", ["pauses_3", "pauses_5"])
def test_callers_who_pause_mid_sentence_are_not_talked_over(call: str) -> None:
    """pauses_3: "My account number is ... four five six, seven eight nine."; pauses_5: "The
    charge on my card was ... forty dollars instead of ... twenty five."."""
    folder = BENCH_CALLS / call
    result = replayed(str(folder))
    starts = [start for start, _, _ in agent_segments(result)]
    offset = result.caller_offset
    for begin, end in caller_turns(folder):
        talked_over = [s for s in starts if begin + offset + CUT_OFF_GRACE < s < end + offset]
        assert talked_over == [], (call, begin, end)
        assert any(s >= end + offset for s in starts), (call, "unanswered", end)


@pytest.mark.parametrize("call", ["pauses_1", "pauses_3"])
def test_no_reply_is_prepared_for_unfinished_words(call: str) -> None:
    """At "My account number is" the framework would start the LLM on the words so far (its
    preemptive generation): a request thrown away when the caller goes on."""
    result = replayed(str(BENCH_CALLS / call))
    asked = [
        [m["content"] for m in request.messages if m.get("role") == "user"][-1]
        for request in result.llm_requests
    ]
    assert len(asked) >= len(caller_turns(BENCH_CALLS / call))
    assert [a for a in asked if read(a).verdict is Verdict.UNFINISHED] == []


# -- recorded calls built from the fixtures --------------------------------------------------------


def _audio(folder: Path) -> tuple[np.ndarray[Any, Any], int]:
    data, rate = soundfile.read(folder / "caller.wav", dtype="float32")
    return data, rate


def _write_call(
    folder: Path,
    base: Path,
    audio: np.ndarray[Any, Any],
    rate: int,
    utterances: list[dict[str, Any]],
    hangup_at: float,
) -> Path:
    folder.mkdir(parents=True)
    for name in ("call.json", "llm.json"):
        shutil.copy(base / name, folder / name)
    soundfile.write(folder / "caller.wav", audio, rate)
    (folder / "stt.json").write_text(json.dumps({"utterances": utterances}))
    (folder / "caller.json").write_text(json.dumps({"hangup_at": hangup_at}))
    return folder


def _backchannel_call(
    root: Path,
    *,
    only_noise: bool = False,
    mm_hm: bool = True,
    question_at: float | None = None,
    final_delays: tuple[float, float] | None = None,
) -> Path:
    """false_interruption's call with a caller's "Mm-hm." over the agent's long answer.

    ``only_noise``: the caller's other sounds under the answer (no words) are taken out;
    ``mm_hm``: False leaves the "Mm-hm." out; ``question_at``: the caller interrupts the
    answer then with "Hi. Where is your main store?"; ``final_delays``: how late the STT's
    final transcripts of the "Mm-hm." and of the question come after their speech.
    """
    base = FIXTURES / "calls" / "false_interruption"
    audio, rate = _audio(base)
    words, words_rate = _audio(BENCH_CALLS / "pauses_2")
    assert words_rate == rate
    start = int(57.6 * rate)  # "Yes, that is right." at 57.58 s
    snippet = words[start : start + int(0.4 * rate)]
    at = 14.0  # the agent reads its opening hours from about 8 s to 25 s
    audio = audio.copy()
    if only_noise:
        audio[int(8.0 * rate) : int(33.0 * rate)] = 0.0
    utterances = json.loads((base / "stt.json").read_text())["utterances"]
    delays = [{"delay": d} for d in final_delays] if final_delays else [{}, {}]
    if mm_hm:
        audio[int(at * rate) : int(at * rate) + len(snippet)] = snippet
        utterances.insert(1, {"start": at, "end": at + 0.4, "text": "Mm-hm.", **delays[0]})
    if question_at is not None:
        question = words[int(28.7 * rate) : int(30.8 * rate)]  # 28.805-30.661 s
        audio[int(question_at * rate) : int(question_at * rate) + len(question)] = question
        begin = question_at + 0.105
        text = "Hi. Where is your main store?"
        said = {"start": begin, "end": begin + 1.856, "text": text, **delays[1]}
        utterances.insert(-1, said)
    name = f"backchannel-{only_noise}-{mm_hm}-{question_at}-{final_delays}"
    folder = _write_call(root / name, base, audio, rate, utterances, hangup_at=40.0)
    if question_at is not None:
        script = json.loads((base / "llm.json").read_text())
        reply = {"when": {"user_contains": "main store"}, "text": "On Market Street.", "ttft": 0.3}
        script["answers"].append(reply)
        (folder / "llm.json").write_text(json.dumps(script))
    return folder


def test_a_backchannel_does_not_interrupt_the_agent(tmp_path: Path) -> None:
    result = run_replay(_backchannel_call(tmp_path), fast=True, output_dir=tmp_path / "out")
    report = result.call.report
    answer = [r for r in report.transcript or [] if r.content.startswith("We are open")]
    assert len(answer) == 1
    speech = [s for s in report.runtime.speech if s.role == "assistant"]
    assert not any(s.interrupted for s in speech)
    assert [r.role for r in report.transcript or []] == [
        "assistant",
        "user",
        "assistant",
        "user",
        "assistant",
    ]
    assert "backchannel" in [e.type for e in report.runtime.events]


def _answer_length(result: ReplayResult) -> float:
    """How long the agent took to say its opening hours, holds included."""
    report = result.call.report
    said = [s for s in report.runtime.speech if s.role == "assistant"]
    answer = [r for r in report.transcript or [] if r.role == "assistant"]
    assert len(said) == len(answer)
    segment = said[[r.content.startswith("We are open") for r in answer].index(True)]
    assert not segment.interrupted
    return segment.end - segment.start


def test_the_agent_held_at_a_backchannels_sound_goes_on_at_its_words(tmp_path: Path) -> None:
    """The session holds the agent at the caller's first sound (a replay's STT has no interim
    words, so interruptions go by sound) and would resume only ``false_interruption_timeout``
    after the caller falls silent; the "Mm-hm." lets it go on as soon as it is read."""
    turn = TurnOptions(false_interruption_timeout=5.0)
    quiet = _backchannel_call(tmp_path, only_noise=True, mm_hm=False)
    plain = run_replay(quiet, fast=True, output_dir=tmp_path / "a", turn=turn)
    mm_hm = _backchannel_call(tmp_path, only_noise=True)
    over = run_replay(mm_hm, fast=True, output_dir=tmp_path / "b", turn=turn)
    events = [e.type for e in over.call.report.runtime.events]
    assert "backchannel" in events and "false_interruption" in events  # it was held
    assert _answer_length(over) - _answer_length(plain) < 1.0


def test_what_the_agent_said_before_an_interruption_counts_the_words_said_after_a_hold(
    tmp_path: Path,
) -> None:
    """The report (and the LLM's context) keep what the caller heard of an interrupted answer:
    the words said after a backchannel's hold count, however long the session's
    false-interruption timeout."""
    turn = TurnOptions(false_interruption_timeout=5.0)
    said = []
    for mm_hm in (False, True):
        folder = _backchannel_call(tmp_path, only_noise=True, mm_hm=mm_hm, question_at=17.0)
        result = run_replay(folder, fast=True, output_dir=tmp_path / f"out-{mm_hm}", turn=turn)
        rows = result.call.report.transcript or []
        answer = [r for r in rows if r.role == "assistant" and r.content.startswith("We are")]
        assert len(answer) == 1
        assert any(r.role == "assistant" and r.content == "On Market Street." for r in rows)
        said.append(len(answer[0].content.split()))
    plain, held = said
    assert 10 < plain < 38  # of the answer's 38 words: it was interrupted
    assert plain - 2 <= held <= plain  # held about 0.3 s: a word or so less, not seconds' worth


def test_a_backchannels_late_transcript_does_not_let_the_agent_talk_over_what_follows(
    tmp_path: Path,
) -> None:
    """ "Mm-hm." then, 0.5 s later, "Hi. Where is your main store?", from an STT whose final
    transcripts come late (1.0 s and 0.6 s after the speech): the "Mm-hm." is read while the
    question is said, and must not let the held answer go on in the pause after "Hi." (the
    end of a sound), before the question's own words are read."""
    folder = _backchannel_call(tmp_path, only_noise=True, question_at=14.9, final_delays=(1.0, 0.6))
    result = run_replay(folder, fast=True, output_dir=tmp_path / "out")
    rows = result.call.report.transcript or []
    assert any(r.role == "assistant" and r.content == "On Market Street." for r in rows)
    heard, rate = soundfile.read(tmp_path / "out" / "recording.wav", dtype="float32")
    said_from, read_at = 14.9 + 0.105, 14.9 + 0.105 + 1.856 + 0.6
    under_the_question = heard[int(said_from * rate) : int(read_at * rate), 1]
    assert float(np.abs(under_the_question).max()) < 1e-3  # the agent held, silent


def _idle_call(root: Path, *, answers_the_prompt: bool) -> Path:
    """pauses_1's first turn, then a caller who says nothing (or answers the prompt)."""
    base = BENCH_CALLS / "pauses_1"
    audio, rate = _audio(base)
    utterances = json.loads((base / "stt.json").read_text())["utterances"]
    length = 60.0
    line = np.zeros(int(length * rate), dtype=audio.dtype)
    line[: int(10.5 * rate)] = audio[: int(10.5 * rate)]  # "My new phone does not ... network."
    kept = utterances[:2]
    if answers_the_prompt:
        # "What time do you close today?" (26.56-28.37 s) said after the prompt
        at = 31.0
        source = audio[int(26.4 * rate) : int(28.6 * rate)]
        line[int(at * rate) : int(at * rate) + len(source)] = source
        shift = at - 26.4
        kept.append({**utterances[4], "start": 26.56 + shift, "end": 28.37 + shift})
    name = "idle_answered" if answers_the_prompt else "idle"
    return _write_call(root / name, base, line, rate, kept, hangup_at=length - 1)


def test_a_silent_caller_is_prompted_then_the_call_ends_politely(tmp_path: Path) -> None:
    result = run_replay(
        _idle_call(tmp_path, answers_the_prompt=False), fast=True, output_dir=tmp_path / "out"
    )
    report = result.call.report
    said = [r.content for r in report.transcript or [] if r.role == "assistant"]
    assert PROMPT_LINE in said
    assert said[-1] == GOODBYE_LINE
    assert (report.ended_by, report.end_reason) == ("agent", "silence_timeout")
    types = [e.type for e in report.runtime.events]
    assert types.count("caller_idle_prompted") == 1
    assert "caller_idle_hangup" in types


def test_a_caller_who_answers_the_prompt_goes_on(tmp_path: Path) -> None:
    result = run_replay(
        _idle_call(tmp_path, answers_the_prompt=True), fast=True, output_dir=tmp_path / "out"
    )
    report = result.call.report
    rows = [(r.role, r.content) for r in report.transcript or []]
    assert ("assistant", PROMPT_LINE) in rows
    assert rows.index(("assistant", PROMPT_LINE)) < rows.index(
        ("user", "What time do you close today?")
    )
    assert ("assistant", "We close at eight tonight.") in rows
