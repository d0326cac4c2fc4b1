"""What the caller hears, measured in the recording (right channel) of replayed calls.

Five replays of the same call (an order lookup through an HTTP tool, so the agent thinks for a
while), differing only in their sound settings. Replays on the virtual clock are timed to the
sample, so subtracting two recordings isolates what one setting added.
"""

from __future__ import annotations

from functools import cache

import numpy as np
import numpy.typing as npt
import pytest
import soundfile

from agent_runtime.media.clip_cache import background_path, load_loop, thinking_path
from agent_runtime.media.limiter import KNEE
from agent_runtime.replay.run import ReplayResult

from .replays import replayed

pytestmark = pytest.mark.replay

RATE = 24000
FRAME = 480
FULL_SCALE = 32767.0
NOISE_LSB = 4.0
"""Two replays differ by up to 2 LSB (the TTS is not bit-exact), plus int16 truncation."""
Samples = npt.NDArray[np.float64]


@cache
def heard(name: str) -> Samples:
    """What the caller heard in ``sounds_<name>``, in int16 units."""
    path = replayed(f"sounds_{name}").call.recording_path
    assert path is not None
    stereo, rate = soundfile.read(str(path), dtype="int16", always_2d=True)
    assert rate == RATE
    right: Samples = stereo[:, 1].astype(np.float64)
    return right


def loop(path: str) -> Samples:
    return load_loop(path, RATE).astype(np.float64) * FULL_SCALE


@cache
def office_start(name: str) -> int:
    """Where the office loop starts in ``heard(name)``: the stream's first frame."""
    stream, office = heard(name), loop(background_path("audio/office.ogg"))
    first = int(np.flatnonzero(stream)[0])
    window = RATE // 4  # before the greeting: the ambient alone

    def misfit(offset: int) -> float:
        bed = office[:window]
        part = stream[offset : offset + window]
        return float(np.abs(part - (part @ bed) / (bed @ bed) * bed).max())

    return min(range(max(0, first - FRAME), first + 1), key=misfit)


def office_under(name: str, volume: float) -> Samples:
    """The office loop at ``volume``, aligned with ``heard(name)``, from its first frame on."""
    stream, office = heard(name), loop(background_path("audio/office.ogg"))
    start = office_start(name)
    expected = np.zeros_like(stream)
    expected[start:] = volume * office[np.arange(stream.size - start) % office.size]
    return expected


def seconds(t: float) -> int:
    return int(round(t * RATE))


def agent_speech(result: ReplayResult) -> list[tuple[int, int]]:
    speech = result.call.report.runtime.speech
    return [(seconds(s.start), seconds(s.end)) for s in speech if s.role == "assistant"]


def without_agent_speech(
    result: ReplayResult, length: int, margin: float = 0.04
) -> npt.NDArray[np.bool_]:
    quiet = np.ones(length, dtype=bool)
    for start, end in agent_speech(result):
        quiet[max(0, start - seconds(margin)) : end + seconds(margin)] = False
    return quiet


def active_frames(signal: Samples, origin: int) -> npt.NDArray[np.intp]:
    """Sample index of each output frame (frames start at ``origin``) where ``signal`` is on."""
    usable = (signal.size - origin) // FRAME * FRAME
    frames = signal[origin : origin + usable].reshape(-1, FRAME)
    return origin + FRAME * np.flatnonzero(np.abs(frames).max(axis=1) > NOISE_LSB)


def test_ambient_is_the_office_loop_at_its_volume_from_first_frame_to_hang_up() -> None:
    result = replayed("sounds_no_thinking")
    stream = heard("no_thinking")
    voice = heard("plain")  # the same call without sounds: the voice alone
    ambient = stream - voice
    # where the limiter left both calls alone (the voice alone may bend where the mix does not)
    unlimited = (np.abs(stream) < KNEE * FULL_SCALE) & (np.abs(voice) < KNEE * FULL_SCALE)
    office = office_under("no_thinking", 0.5)  # background_sound_volume omitted: 0.5
    assert np.abs(ambient - office)[unlimited].max() <= NOISE_LSB  # under the voice too
    assert unlimited.mean() > 0.999
    assert office_start("no_thinking") < FRAME  # from the first frame...
    hung_up = next(e.at for e in result.call.report.runtime.events if e.type == "hung_up")
    assert stream.size / RATE > hung_up  # ...to the hang-up


def test_ambient_level_matches_its_volume_in_silence_and_under_speech() -> None:
    result = replayed("sounds_no_thinking")
    stream = heard("no_thinking")
    bed = office_under("no_thinking", 1.0)
    quiet = without_agent_speech(result, stream.size)
    speaking = ~without_agent_speech(result, stream.size, margin=0.0)
    assert quiet.sum() > 10 * RATE and speaking.sum() > 8 * RATE

    def rms(x: Samples) -> float:
        return float(np.sqrt(np.mean(x**2)))

    assert rms(stream[quiet]) == pytest.approx(0.5 * rms(bed[quiet]), rel=0.02)
    under_voice = (stream - heard("plain"))[speaking]
    assert rms(under_voice) == pytest.approx(0.5 * rms(bed[speaking]), rel=0.02)


def thinking_added() -> Samples:
    """All the thinking layer added: the same call with and without it (probability 0)."""
    return heard("thinking") - heard("no_thinking")


def test_thinking_sound_plays_only_while_the_agent_processes_a_turn() -> None:
    report = replayed("sounds_thinking").call.report
    turns = [
        (seconds(t.user_stopped_speaking), seconds(t.agent_started_speaking) + FRAME)
        for t in report.runtime.latency
        if t.agent_started_speaking is not None
    ]
    frames = active_frames(thinking_added(), office_start("thinking"))
    assert frames.size, "no thinking sound was heard"
    for frame in frames:
        assert any(start <= frame and frame + FRAME <= end for start, end in turns), frame / RATE


def test_thinking_sound_spans_the_tool_steps_and_stops_in_the_first_voice_frame() -> None:
    result = replayed("sounds_thinking")
    thinking = thinking_added()
    (tool_turn, *_) = result.call.report.runtime.latency
    assert tool_turn.agent_started_speaking is not None
    tool = next(e for e in result.call.report.runtime.events if e.type == "http_tool")

    voice = heard("plain")
    onset = seconds(tool_turn.agent_started_speaking - 0.1)
    onset += int(np.flatnonzero(np.abs(voice[onset:]) > NOISE_LSB)[0])
    frames = active_frames(thinking[: onset + FRAME], office_start("thinking"))
    first, last = int(frames[0]), int(frames[-1])
    assert np.array_equal(frames, np.arange(first, last + 1, FRAME))  # one stretch, no gap
    assert tool_turn.user_stopped_speaking < first / RATE < tool.at  # LLM, tool, LLM...
    assert last <= onset < last + FRAME  # ...until the very frame the voice starts in,
    assert np.abs(thinking[onset + FRAME // 2 : onset + RATE]).max() <= NOISE_LSB  # fading out
    assert np.sqrt(np.mean(thinking[onset - FRAME : onset] ** 2)) > 50  # heard up to the voice

    clip = loop(thinking_path("city-ambience.ogg"))  # thinking_sound_volume omitted: 0.5
    fade = FRAME // 2
    played = thinking[first + fade : last]
    expected = 0.5 * clip[fade : fade + played.size]
    assert np.abs(played - expected).max() <= NOISE_LSB  # from the top, never restarted


def test_a_cartesia_volume_reaches_the_voice() -> None:
    # The stand-in voice applies Cartesia's volume as Cartesia would. The greeting is compared:
    # it plays on timers alone, so two replays line it up to the sample on any machine.
    greeting = slice(0, 3 * RATE)
    plain = heard("plain")[greeting]  # Cartesia at volume 1.0
    quiet = heard("quiet_voice")[greeting]  # Cartesia at volume 0.5
    unlimited = np.abs(plain) < KNEE * FULL_SCALE  # where the limiter leaves the mix alone
    assert np.abs(plain).max() > 10000
    assert np.abs(quiet - 0.5 * plain)[unlimited].max() <= NOISE_LSB


def test_nothing_clips_with_every_volume_at_its_maximum() -> None:
    stream = heard("full_volume")  # Cartesia 2.0, background 1.0, thinking 1.0
    assert np.abs(2 * heard("plain")).max() > 1.5 * FULL_SCALE  # the voice alone would clip...
    assert 0.95 * FULL_SCALE < np.abs(stream).max() < FULL_SCALE  # ...the mix bends below
    assert np.abs(np.diff(stream)).max() < FULL_SCALE  # and never wraps around
