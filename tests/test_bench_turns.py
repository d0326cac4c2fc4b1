"""The turn-taking benchmark's instrument: the turn set's form and the measurements."""

from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest
import soundfile
from livekit import rtc

from bench.callees import _Speaker
from bench.turn_calls import (
    ANSWER_WAIT,
    GAP,
    LEAD_IN,
    LONG_ANSWER,
    OVERLAP_AFTER,
    PlacedTurn,
    PlannedCall,
    answer_seconds,
    deal,
    plan_calls,
)
from bench.turn_form import TurnEntry, TurnSetError, load, read_audio, segment_times, write
from bench.turn_play import CallPlayed, VoiceTimeline
from bench.turn_set import PAUSE_RANGE, render_line
from bench.turn_stt import StreamingStandInSTT, Stretch, releases, word_ends
from bench.turn_texts import HELDOUT, TUNE, Line
from bench.turns import ImplResult, measure_call, measure_overlap, measure_turn, summary


def _turn(segments: list[list[float]], kind: str = "turn", index: int = 0) -> PlacedTurn:
    return PlacedTurn(
        index=index,
        kind=kind,
        family="espeak",
        category="digits",
        file_start=segments[0][0] - 0.3,
        segments=segments,
        texts=[f"part {i}" for i in range(len(segments))],
    )


# -- the turn set --------------------------------------------------------------------------------


def test_the_parts_are_worded_differently_and_big_enough() -> None:
    def said(lines: tuple[Line, ...]) -> set[str]:
        return {" ".join(line.segments) for line in lines}

    assert not said(TUNE) & said(HELDOUT)
    for lines in (TUNE, HELDOUT):
        turns = [line for line in lines if line.kind == "turn"]
        assert len(turns) >= 30
        assert sum(1 for line in turns if len(line.segments) > 1) * 2 >= len(turns)
        assert {line.kind for line in lines} == {"turn", "backchannel", "interruption"}


def test_rendered_turns_have_the_form_and_are_repeatable(tmp_path: Path) -> None:
    speaker = _Speaker()
    paused = next(i for i, line in enumerate(HELDOUT) if len(line.segments) == 3)
    backchannel = next(i for i, line in enumerate(HELDOUT) if line.kind == "backchannel")
    entries = [
        render_line(HELDOUT[i], "heldout", i, speaker, tmp_path) for i in (paused, backchannel)
    ]
    write(tmp_path, entries)
    raw = json.loads((tmp_path / "turns.json").read_text())
    assert {"file", "text", "segments", "mid_pauses_s"} <= set(raw[0])
    assert raw[1]["kind"] == "backchannel"
    loaded = load(tmp_path)
    assert loaded == entries
    first = loaded[0]
    info = soundfile.info(str(tmp_path / first.file))
    assert (info.channels, info.samplerate, info.subtype) == (1, 8000, "ULAW")
    assert len(first.mid_pauses_s) == 2
    assert all(PAUSE_RANGE[0] <= p <= PAUSE_RANGE[1] for p in first.mid_pauses_s)
    times = first.segment_times
    assert times is not None
    gaps = [b[0] - a[1] for a, b in zip(times, times[1:], strict=False)]
    assert gaps == pytest.approx(first.mid_pauses_s, abs=0.002)
    # the times found in the audio agree with the ones written
    audio, rate = read_audio(tmp_path, first)
    found = segment_times(TurnEntry(**{**first.__dict__, "segment_times": None}), audio, rate)
    assert sum(found, []) == pytest.approx(sum(times, []), abs=0.12)
    again = tmp_path / "again"
    again.mkdir()
    render_line(HELDOUT[paused], "heldout", paused, speaker, again)
    assert (again / first.file).read_bytes() == (tmp_path / first.file).read_bytes()


def test_a_broken_turn_set_is_named_in_one_line(tmp_path: Path) -> None:
    with pytest.raises(TurnSetError, match="no turns.json"):
        load(tmp_path)
    soundfile.write(str(tmp_path / "a.wav"), [0.0] * 800, 8000)
    item = {"file": "a.wav", "text": "a b", "segments": ["a", "b"], "mid_pauses_s": []}
    (tmp_path / "turns.json").write_text(json.dumps([item]))
    with pytest.raises(TurnSetError, match="entry 0: 2 segments need 1 mid_pauses_s"):
        load(tmp_path)
    (tmp_path / "turns.json").write_text(
        json.dumps([{**item, "file": "b.wav", "mid_pauses_s": [0.5]}])
    )
    with pytest.raises(TurnSetError, match="b.wav does not exist"):
        load(tmp_path)
    bad_kind = {**item, "mid_pauses_s": [0.5], "kind": "cough"}
    (tmp_path / "turns.json").write_text(json.dumps([bad_kind]))
    with pytest.raises(TurnSetError, match="kind 'cough'"):
        load(tmp_path)


# -- the calls -----------------------------------------------------------------------------------


def _entry(kind: str = "turn", segments: int = 1) -> TurnEntry:
    return TurnEntry(
        file="x.wav",
        text="x",
        segments=[f"s{i}" for i in range(segments)],
        mid_pauses_s=[0.8] * (segments - 1),
        kind=kind,  # type: ignore[arg-type]
        voice="piper:joe@1",
    )


def test_turns_are_placed_seven_seconds_apart_and_overlaps_over_a_long_answer() -> None:
    entries = [_entry(segments=2), _entry(), _entry(), _entry("backchannel"), _entry()]
    times = [[[0.3, 1.0], [1.8, 2.5]], [[0.3, 1.2]], [[0.4, 1.0]], [[0.3, 0.7]], [[0.3, 0.9]]]
    (call,) = plan_calls(entries, times, [3.0, 1.5, 1.4, 1.0, 1.2], calls=1)
    kinds = [t.kind for t in call.turns]
    assert kinds.count("backchannel") == 1
    first = call.turns[0]
    assert first.speech_start == pytest.approx(LEAD_IN)
    assert first.segments[1][0] - first.segments[0][1] == pytest.approx(0.8)
    assert call.turns[1].speech_start - first.speech_end == pytest.approx(GAP)
    overlap = kinds.index("backchannel")
    host = call.turns[overlap - 1]
    assert host.long_answer and len(host.segments) == 1
    assert call.turns[overlap].speech_start - host.speech_end == pytest.approx(OVERLAP_AFTER)
    assert call.hangup_at > call.turns[-1].speech_end
    assert [s.text for s in call.stretches()][:2] == ["s0", "s1"]


def test_a_call_ending_on_a_backchannel_hangs_up_after_the_answer_said_over_it() -> None:
    """Else the hang-up cuts the long answer short, and the benchmark counts it as a stop."""
    entries = [_entry(), _entry(), _entry("backchannel")]
    times = [[[0.3, 1.2]], [[0.3, 1.2]], [[0.3, 0.7]]]
    (call,) = plan_calls(entries, times, [1.5, 1.5, 1.0], calls=1)
    host = call.turns[1]
    assert call.turns[-1].kind == "backchannel" and host.long_answer
    answer_over = host.speech_end + ANSWER_WAIT + answer_seconds(LONG_ANSWER)
    assert call.hangup_at > answer_over


def test_every_turn_is_dealt_once() -> None:
    entries = [_entry() for _ in range(9)] + [_entry("interruption"), _entry("backchannel")]
    dealt = deal(entries, 4)
    assert sorted(i for order in dealt for i in order) == list(range(11))


def test_voice_frames_close_together_are_one_stretch() -> None:
    timeline = VoiceTimeline()
    for n in range(5):
        timeline.frame(100.0 + n * 0.02, 0.02, voiced=True)
    timeline.frame(100.1, 0.02, voiced=False)
    timeline.frame(100.3, 0.02, voiced=True)  # a word gap: the same stretch
    timeline.frame(100.8, 0.02, voiced=True)  # a pause: a new one
    assert timeline.on_clock(100.0) == [[0.0, 0.32], [0.8, 0.82]]


# -- the STT stand-in ----------------------------------------------------------------------------


def test_the_stt_sends_words_as_spoken_and_the_final_transcript_late() -> None:
    stretch = Stretch(1.0, 2.0, "my number is")
    ends = word_ends(stretch)
    assert ends[-1] == pytest.approx(2.0) and ends[0] < ends[1] < ends[2]
    sent = releases([stretch, Stretch(3.0, 3.5, "four")], interim_delay=0.2, final_delay=0.4)
    interim = [r for r in sent if not r.final]
    finals = [r for r in sent if r.final]
    assert [r.text for r in interim] == ["my", "my number"]
    assert interim[0].at == pytest.approx(ends[0] + 0.2)
    assert [(r.text, r.at) for r in finals] == [("my number is", 2.4), ("four", 3.9)]


async def _transcripts(
    stretches: list[Stretch], skip: tuple[float, float]
) -> list[tuple[str, str]]:
    """What the stand-in sends for 3 s of audio pushed in 20 ms frames, but for ``skip``."""
    position = [0.0]
    engine = StreamingStandInSTT(stretches, lambda: position[0])
    stream = engine.stream()
    silence = rtc.AudioFrame(bytes(320), 8000, 1, 160)
    for _ in range(150):
        position[0] = round(position[0] + 0.02, 2)
        if not skip[0] < position[0] <= skip[1]:
            stream.push_frame(silence)
            await asyncio.sleep(0.001)  # the stream reads the playhead as the frame arrives
    stream.end_input()
    sent = [(event.type.value, event.alternatives[0].text) async for event in stream]
    await stream.aclose()
    return sent


async def test_the_stt_stream_follows_the_playhead_and_skips_audio_it_did_not_get() -> None:
    stretches = [Stretch(0.5, 1.2, "my number is"), Stretch(2.0, 2.4, "four")]
    heard = await _transcripts(stretches, skip=(0.0, 0.0))
    assert heard == [
        ("interim_transcript", "my"),
        ("interim_transcript", "my number"),
        ("final_transcript", "my number is"),
        ("final_transcript", "four"),
    ]
    # the session discarded the first stretch's audio: it is not transcribed
    missed = await _transcripts(stretches, skip=(0.4, 1.3))
    assert missed == [("final_transcript", "four")]


# -- the measurements ----------------------------------------------------------------------------


def test_agent_audio_in_a_pause_is_a_cut_off() -> None:
    turn = _turn([[10.0, 11.0], [12.0, 13.0]])
    result = measure_turn(turn, 20.0, [[11.6, 12.4], [13.5, 14.0]], commits=[11.5, 13.3])
    assert result.cut and result.pauses == 1 and result.pauses_cut == 1
    assert result.latency == pytest.approx(0.5)
    assert result.decided == pytest.approx(0.3)  # the last commit before the answer


def test_latency_runs_from_the_end_of_speech_to_the_first_agent_audio() -> None:
    turn = _turn([[10.0, 11.0]])
    answered = measure_turn(turn, 18.0, [[5.0, 9.0], [11.42, 12.0], [12.5, 13.0]])
    assert answered.latency == pytest.approx(0.42) and not answered.cut
    # agent audio that starts within 0.2 s of the caller's start is no cut-off
    assert not measure_turn(turn, 18.0, [[10.1, 10.5]]).cut
    # nothing before the next turn: not answered
    assert measure_turn(turn, 18.0, [[18.5, 19.0]]).latency is None


def test_a_backchannel_the_agent_talks_through_is_not_a_stop() -> None:
    backchannel = _turn([[20.0, 20.5]], kind="backchannel")
    assert measure_overlap(backchannel, 14.0, 12.0, [[15.0, 27.0]]).stopped_after is None
    paused = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 20.6], [22.0, 28.4]])
    assert paused.over_speech and paused.stopped_after == pytest.approx(0.6)
    assert paused.held_for == pytest.approx(1.4)  # the rest of the answer came after 1.4 s
    cut = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 20.6], [22.0, 23.0]])
    assert cut.stopped_after == pytest.approx(0.6) and cut.held_for is None
    # held twice ("okay, ... perfect"): the rest came in two pieces
    twice = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 20.6], [21.0, 21.2], [21.6, 27.8]])
    assert twice.held_for == pytest.approx(0.8)
    # cut, then a short reply and, much later, voice that happens to make up the rest
    late = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 20.6], [21.0, 22.0], [30.0, 35.4]])
    assert late.held_for is None
    # cut, then a long reply to the backchannel: not the rest of the answer
    replied = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 20.6], [22.0, 31.0]])
    assert replied.held_for is None
    # an answer that paused earlier and resumed, then played to its end under it
    resumed = measure_overlap(backchannel, 14.0, 12.0, [[15.0, 18.0], [19.5, 28.5]])
    assert resumed.over_speech and resumed.stopped_after is None
    silent = measure_overlap(backchannel, 14.0, 12.0, [[8.0, 14.0]])
    assert not silent.over_speech and silent.stopped_after is None


def test_an_interruption_is_timed_to_the_agent_stopping() -> None:
    interruption = _turn([[30.0, 31.5]], kind="interruption", index=1)
    result = measure_overlap(interruption, 24.0, 12.0, [[25.0, 30.25], [32.0, 33.0]])
    assert result.stopped_after == pytest.approx(0.25)
    assert result.held_for is None  # what came next was the answer to it, not the rest


def test_the_summary_counts_each_implementation_and_family() -> None:
    call = PlannedCall(
        "call_1",
        [_turn([[10.0, 11.0], [12.0, 13.0]]), _turn([[20.0, 20.4]], "backchannel", 1)],
        30.0,
    )
    played = CallPlayed("ours", "call_1", [[11.6, 12.4], [13.5, 22.0]])
    result = ImplResult("ours", measure_call(call, played, 12.0), expected=3)
    text = summary([result])
    assert "only 2 of 3 turns measured" in text  # a third turn's call failed
    assert "ours, all" in text
    row = next(line for line in text.splitlines() if line.startswith("ours, all"))
    assert row.split()[2:4] == ["1/1", "500"]  # answered, p50 in ms
    assert row.split()[-3:] == ["1", "1/1", "1/1"]  # turns, paused turns, pauses cut
