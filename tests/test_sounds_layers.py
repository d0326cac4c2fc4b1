"""The mixer's parts on their own: clip cache, loops, ambient and thinking layers, limiter."""

from __future__ import annotations

import asyncio
import dataclasses
import json
import random
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import pytest
import soundfile
from livekit.agents import AgentSession
from livekit.agents.voice.events import (
    AgentState,
    AgentStateChangedEvent,
    UserStateChangedEvent,
)

from agent_runtime.config.loading import load_text
from agent_runtime.media.clip_cache import (
    LoopedClip,
    background_path,
    cached_loop,
    load_loop,
    make_loop,
    thinking_path,
)
from agent_runtime.media.layers import FADE_SECONDS, AmbientLayer, ThinkingLayer, add_looped
from agent_runtime.media.limiter import CEILING, KNEE, soft_limit
from agent_runtime.media.output import OutputLayer
from agent_runtime.media.sounds import CallSounds

from .conftest import ROOT

RATE = 24000
FRAME = 480
FADE = int(FADE_SECONDS * RATE)
Floats = npt.NDArray[np.float32]


def clip_file(folder: Path, samples: npt.NDArray[Any], rate: int = RATE) -> str:
    path = folder / f"clip-{rate}-{samples.size}.wav"
    soundfile.write(str(path), samples.astype(np.float32), rate, subtype="FLOAT")
    return str(path)


def noise(seconds: float, seed: int = 1) -> Floats:
    rng = np.random.default_rng(seed)
    return (rng.normal(0, 0.1, int(seconds * RATE))).astype(np.float32)


def play(layer: OutputLayer, count: int, *, voice: bool = False) -> Floats:
    """``count`` frames of ``layer`` alone."""
    out = []
    for _ in range(count):
        mix = np.zeros(FRAME, dtype=np.float32)
        layer.render(mix, voice)
        out.append(mix)
    return np.concatenate(out)


# -- clips and loops -------------------------------------------------------------------------


def test_a_looped_clip_joins_its_end_to_its_start_without_a_click() -> None:
    t = np.arange(RATE) / RATE
    tone = (0.5 * np.sin(2 * np.pi * 3.3 * t)).astype(np.float32)  # 3.3 cycles: no loop point
    step = float(np.abs(np.diff(tone)).max())
    assert abs(float(tone[-1] - tone[0])) > 100 * step  # played as is, the loop clicks
    loop = make_loop(tone, RATE)
    assert float(np.abs(np.diff(np.tile(loop, 3))).max()) < 2 * step


def test_a_looped_clip_keeps_its_level_across_the_join() -> None:
    loop = make_loop(noise(4.0), RATE)
    around_join = np.concatenate([loop[-RATE // 4 :], loop[: RATE // 4]])
    level = float(np.sqrt(np.mean(loop**2)))
    assert float(np.sqrt(np.mean(around_join**2))) == pytest.approx(level, rel=0.1)


def test_the_shipped_office_ambience_is_small_loop_safe_and_at_its_level() -> None:
    path = ROOT / "audio" / "office.ogg"
    assert path.stat().st_size < 500_000
    assert Path(background_path("audio/office.ogg")).resolve() == path.resolve()
    raw, rate = soundfile.read(str(path), dtype="float32")
    assert rate == RATE and raw.size == 30 * RATE
    step = np.abs(np.diff(raw))
    assert abs(float(raw[-1] - raw[0])) <= float(np.quantile(step, 0.999))  # made on a circle
    loop = load_loop(str(path), RATE)
    assert 20 * np.log10(np.sqrt(np.mean(loop**2))) == pytest.approx(-30.0, abs=1.0)
    seconds = loop[: loop.size // RATE * RATE].reshape(-1, RATE)
    levels = 20 * np.log10(np.sqrt(np.mean(seconds**2, axis=1)))
    assert levels.max() - levels.min() < 4.0  # a steady bed, no gap or burst


def test_every_builtin_thinking_clip_loads_as_a_mono_loop() -> None:
    for name in ("keyboard-typing2.ogg", "office-ambience.ogg"):
        loop = load_loop(thinking_path(name), RATE)
        assert loop.ndim == 1 and loop.size > RATE and loop.dtype == np.float32


def test_clips_are_decoded_once_per_process_and_shared(tmp_path: Path) -> None:
    path = clip_file(tmp_path, noise(1.0))
    assert cached_loop(path, RATE) is None
    first = LoopedClip(path, RATE).samples
    second = LoopedClip(path, RATE).samples
    assert first is not None and first is second is cached_loop(path, RATE)
    assert not first.flags.writeable
    slower = LoopedClip(path, 16000).samples  # another output rate: resampled once, apart
    assert slower is not None and slower.size == pytest.approx(first.size * 2 / 3, abs=20)


async def test_a_clip_not_yet_cached_is_decoded_off_the_event_loop(tmp_path: Path) -> None:
    path = clip_file(tmp_path, noise(2.0))
    clip = LoopedClip(path, RATE)
    assert clip.samples is None  # handed to the executor, not decoded on the loop
    for _ in range(500):
        await asyncio.sleep(0.01)
        if clip.samples is not None:
            break
    assert clip.samples is load_loop(path, RATE)


async def test_a_clip_that_cannot_be_decoded_stays_silent(tmp_path: Path) -> None:
    clip = LoopedClip(str(tmp_path / "missing.ogg"), RATE)
    layer = AmbientLayer(clip, 1.0)
    for _ in range(500):
        assert not play(layer, 1).any()
        if clip.samples is not None:
            break
        await asyncio.sleep(0.01)
    assert clip.samples is not None and clip.samples.size == 0
    assert not play(layer, 3).any()


# -- layers ----------------------------------------------------------------------------------


def test_add_looped_wraps_a_clip_shorter_than_the_frame() -> None:
    clip = np.arange(75, dtype=np.float32)
    mix = np.ones(FRAME, dtype=np.float32)
    assert add_looped(mix, clip, 70, 2.0) == (70 + FRAME) % 75
    assert np.array_equal(mix, 1 + 2 * np.roll(np.tile(clip, 8), -70)[:FRAME])


def test_ambient_layer_loops_at_its_volume_under_voice_and_silence(tmp_path: Path) -> None:
    clip = LoopedClip(clip_file(tmp_path, noise(0.5)), RATE)
    loop = clip.samples
    assert loop is not None
    layer = AmbientLayer(clip, 0.25)
    heard = np.concatenate([play(layer, 40), play(layer, 40, voice=True)])
    expected = 0.25 * np.tile(loop, heard.size // loop.size + 1)[: heard.size]
    np.testing.assert_allclose(heard, expected, atol=1e-7)


def thinking_layer(
    tmp_path: Path, probability: float = 1.0, seed: str = "call_1"
) -> tuple[ThinkingLayer, Floats]:
    """A thinking layer at volume 0.5 on a noise clip, and that clip's loop."""
    path = clip_file(tmp_path, noise(2.0, seed=7))
    layer = ThinkingLayer(
        LoopedClip(path, RATE),
        0.5,
        probability=probability,
        rng=random.Random(seed),
        sample_rate=RATE,
    )
    return layer, load_loop(path, RATE)


def test_thinking_plays_while_thinking_and_stops_in_the_first_voice_frame(tmp_path: Path) -> None:
    layer, loop = thinking_layer(tmp_path)
    assert not play(layer, 3).any()  # listening: nothing
    layer.set_thinking(True)
    heard = play(layer, 5)
    fade = (np.arange(FADE) + 0.5) / FADE
    np.testing.assert_allclose(heard[:FADE], 0.5 * loop[:FADE] * fade, atol=1e-7)
    np.testing.assert_allclose(heard[FADE:], 0.5 * loop[FADE : 5 * FRAME], atol=1e-7)
    first_voice_frame = play(layer, 1, voice=True)
    assert first_voice_frame[:FADE].any() and not first_voice_frame[FADE:].any()
    assert not play(layer, 10, voice=True).any()


def test_thinking_resumes_where_it_was_within_a_turn_and_restarts_on_the_next(
    tmp_path: Path,
) -> None:
    layer, loop = thinking_layer(tmp_path)
    layer.set_thinking(True)  # the caller's turn ended: LLM, then a tool...
    play(layer, 5)
    layer.set_thinking(False)
    play(layer, 1)  # fading out over FADE samples
    layer.set_thinking(True)  # ...the next tool step: the clip goes on, not from the top
    resumed = play(layer, 2)
    at = 5 * FRAME + FADE
    np.testing.assert_allclose(resumed[FADE:], 0.5 * loop[at + FADE : at + 2 * FRAME], atol=1e-7)
    layer.set_thinking(False)
    play(layer, 1)
    layer.new_turn()
    layer.set_thinking(True)
    np.testing.assert_allclose(play(layer, 1)[FADE:], 0.5 * loop[FADE:FRAME], atol=1e-7)


def turns_with_sound(layer: ThinkingLayer, turns: int) -> list[bool]:
    played = []
    for _ in range(turns):
        layer.new_turn()
        layer.set_thinking(True)
        played.append(bool(play(layer, 1).any()))
        layer.set_thinking(False)
        play(layer, 1)
    return played


def test_thinking_probability_is_drawn_per_turn_from_the_call_seed(tmp_path: Path) -> None:
    assert not any(turns_with_sound(thinking_layer(tmp_path, 0.0)[0], 50))
    assert all(turns_with_sound(thinking_layer(tmp_path, 1.0)[0], 50))
    half = turns_with_sound(thinking_layer(tmp_path, 0.5, seed="call_a")[0], 200)
    assert 0.35 < sum(half) / len(half) < 0.65
    assert turns_with_sound(thinking_layer(tmp_path, 0.5, seed="call_a")[0], 200) == half
    assert turns_with_sound(thinking_layer(tmp_path, 0.5, seed="call_b")[0], 200) != half


# -- limiter ---------------------------------------------------------------------------------


def test_limiter_leaves_normal_levels_untouched() -> None:
    mix = np.linspace(-KNEE, KNEE, 4801, dtype=np.float32)
    limited = mix.copy()
    soft_limit(limited)
    assert np.array_equal(limited, mix)


def test_limiter_bends_loud_sums_smoothly_below_full_scale() -> None:
    mix = np.linspace(-6.0, 6.0, 120001, dtype=np.float32)
    soft_limit(mix)
    assert np.abs(mix).max() <= CEILING < 1.0
    assert np.all(np.diff(mix) >= 0)  # monotonic: no fold-over, no wrap-around
    assert np.abs(np.diff(mix)).max() < 2 * 12 / 120000  # continuous, slope at most 1
    assert int(np.abs(mix * 32767).astype(np.int16).max()) < 32767


# -- the call's sounds -----------------------------------------------------------------------


def spec_with(**assistant: Any) -> Any:
    document = {
        "call": {
            "id": "call_sounds_unit",
            "direction": "inbound",
            "assistant": {"prompt": "Be brief.", **assistant},
        }
    }
    return load_text(json.dumps(document), source="test")


def test_no_sound_configured_means_no_layer() -> None:
    sounds = CallSounds.for_call(spec_with(), sample_rate=RATE)
    assert sounds.layers == []
    silent = spec_with(
        background_sound="audio/office.ogg",
        background_sound_volume=0,
        thinking_sound="hold_music.ogg",
        thinking_sound_probability=0,
    )
    assert CallSounds.for_call(silent, sample_rate=RATE).layers == []


def spoken_turns(spec: Any, turns: int) -> list[Floats]:
    """A call's thinking layer over ``turns`` caller turns, driven by a real session's events.

    Each turn: the caller speaks, the agent thinks for two frames, then its voice starts.
    """
    sounds = CallSounds.for_call(spec, sample_rate=RATE)
    thinking = sounds.layers[-1]
    session: AgentSession[None] = AgentSession()
    sounds.attach(session)

    def state(old: AgentState, new: AgentState) -> AgentStateChangedEvent:
        return AgentStateChangedEvent(old_state=old, new_state=new)

    heard = []
    for _ in range(turns):
        caller = UserStateChangedEvent(old_state="listening", new_state="speaking")
        session.emit("user_state_changed", caller)
        session.emit("agent_state_changed", state("listening", "thinking"))
        heard.append(play(thinking, 2))
        session.emit("agent_state_changed", state("thinking", "speaking"))
        assert not play(thinking, 2, voice=True)[FADE:].any()
    return heard


async def test_defaults_are_half_volume_and_every_turn() -> None:
    office = load_loop(background_path("audio/office.ogg"), RATE)
    typing = load_loop(thinking_path("keyboard-typing2.ogg"), RATE)
    spec = spec_with(background_sound="audio/office.ogg", thinking_sound="keyboard-typing2.ogg")
    ambient, _ = CallSounds.for_call(spec, sample_rate=RATE).layers
    np.testing.assert_allclose(play(ambient, 3), 0.5 * office[: 3 * FRAME], atol=1e-7)
    for heard in spoken_turns(spec, 5):  # probability 1 when omitted: every turn, from the top
        np.testing.assert_allclose(heard[FADE:], 0.5 * typing[FADE : 2 * FRAME], atol=1e-7)


async def test_each_turn_draws_the_thinking_sound_from_the_call_id() -> None:
    load_loop(thinking_path("keyboard-typing2.ogg"), RATE)
    spec = spec_with(thinking_sound="keyboard-typing2.ogg", thinking_sound_probability=0.3)
    heard = [bool(turn.any()) for turn in spoken_turns(spec, 200)]
    assert 0.2 < sum(heard) / len(heard) < 0.4
    replayed = [bool(turn.any()) for turn in spoken_turns(spec, 200)]
    assert replayed == heard  # a replay of the call hears the same turns
    other = dataclasses.replace(spec, call=spec.call.model_copy(update={"id": "call_other"}))
    assert [bool(turn.any()) for turn in spoken_turns(other, 200)] != heard
