"""The voicemail beep detector on phone-like audio: espeak-ng speech, mu-law and line noise."""

from __future__ import annotations

import functools
import subprocess

import numpy as np
import numpy.typing as npt
import pytest

from agent_runtime.answering.beep import MIN_SECONDS, Beep, BeepDetector

RATE = 8000
GAP = 0.4
"""Seconds of quiet between a greeting and its beep."""
GREETING = "Hi, you've reached Sam. Please leave a message after the tone."
SENTENCES = (
    "Thank you for calling. Our office hours are Monday to Friday, nine to five. Goodbye! "
    "Hello? Yes, this is Mary speaking. Who is this? Oh, hi! How are you doing today? "
    "Sooo, well, hmmm. Noooo, I'm afraid he is not here right now."
)
Floats = npt.NDArray[np.float32]


@functools.cache
def speech(text: str, voice: str = "en-us", rate: int = RATE) -> Floats:
    """``text`` spoken by espeak-ng, resampled (and at 8 kHz band-limited) by sox, at -6 dBFS."""
    wav = subprocess.run(
        ["espeak-ng", "-v", voice, "--stdout", text], check=True, capture_output=True
    ).stdout
    band = ["sinc", "300-3400"] if rate == RATE else []
    raw = subprocess.run(
        ["sox", "-t", "wav", "-", "-t", "f32", "-r", str(rate), "-", *band, "norm", "-6"],
        input=wav,
        check=True,
        capture_output=True,
    ).stdout
    return np.frombuffer(raw, dtype=np.float32)


def tone(
    frequencies: tuple[float, ...], seconds: float, rate: int = RATE, amplitude: float = 0.1
) -> Floats:
    t = np.arange(round(seconds * rate)) / rate
    waves = amplitude * np.sin(2 * np.pi * np.outer(frequencies, t))
    summed: Floats = waves.sum(axis=0).astype(np.float32)
    return summed


def glide(low: float, high: float, seconds: float) -> Floats:
    """A tone whose frequency rises steadily from ``low`` to ``high`` Hz."""
    t = np.arange(round(seconds * RATE)) / RATE
    phase = 2 * np.pi * (low * t + (high - low) * t**2 / (2 * seconds))
    return (0.1 * np.sin(phase)).astype(np.float32)


def quiet(seconds: float, rate: int = RATE) -> Floats:
    return np.zeros(round(seconds * rate), dtype=np.float32)


def line(audio: Floats, rate: int = RATE, seed: int = 0) -> npt.NDArray[np.int16]:
    """``audio`` as heard on a phone line: noise at -50 dBFS, mu-law coded at 8 kHz, int16."""
    noisy = audio + np.random.default_rng(seed).normal(0, 10 ** (-50 / 20), audio.size)
    if rate == RATE:  # the mu-law round trip, 8 bits
        code = np.round(
            np.sign(noisy) * np.log1p(255 * np.minimum(np.abs(noisy), 1)) / np.log(256) * 127
        )
        noisy = np.sign(code) * np.expm1(np.abs(code) / 127 * np.log(256)) / 255
    return np.round(np.clip(noisy, -1, 32767 / 32768) * 32768).astype(np.int16)


def detect(
    audio: npt.NDArray[np.int16] | Floats, rate: int = RATE, size: int = 160
) -> list[tuple[Beep, float]]:
    """The beeps found, each with the seconds of audio fed when it was reported."""
    detector = BeepDetector(rate)
    found = []
    for start in range(0, audio.size, size):
        beep = detector.push(audio[start : start + size])
        if beep:
            found.append((beep, (start + size) / rate))
    return found


def greeting_then(beep: Floats, rate: int = RATE) -> tuple[Floats, float]:
    """A voicemail greeting, a pause, ``beep`` and silence; and when the beep starts."""
    greeting = speech(GREETING, rate=rate)
    audio = np.concatenate((greeting, quiet(GAP, rate), beep, quiet(0.5, rate)))
    return audio, greeting.size / rate + GAP


def assert_one_beep(
    found: list[tuple[Beep, float]], start: float, seconds: float, frequency: float
) -> None:
    [(beep, reported)] = found
    end = start + seconds
    assert beep.start == pytest.approx(start, abs=0.04)
    assert beep.end == pytest.approx(end, abs=0.04)
    assert beep.frequency == pytest.approx(frequency, rel=0.03)
    assert end <= reported <= end + 0.06


@pytest.mark.parametrize("seconds", [0.15, 0.5, 1.2])
@pytest.mark.parametrize("frequency", [440, 850, 1000, 1400, 2000])
def test_a_beep_after_a_greeting_is_reported_once_as_it_ends(
    frequency: float, seconds: float
) -> None:
    audio, start = greeting_then(tone((frequency,), seconds))
    assert_one_beep(detect(line(audio)), start, seconds, frequency)


def test_16_khz_audio_works_alike() -> None:
    rate = 16000
    audio, start = greeting_then(tone((1000,), 0.5, rate), rate)
    assert_one_beep(detect(line(audio, rate), rate, size=320), start, 0.5, 1000)
    assert detect(line(speech(SENTENCES, "en-gb+f3", rate), rate), rate, size=320) == []


def test_a_fading_beep_and_a_wobbling_beep_are_beeps() -> None:
    t = np.arange(round(0.6 * RATE)) / RATE
    fading = (0.3 * np.exp(-3 * t) * np.sin(2 * np.pi * 1000 * t)).astype(np.float32)
    audio, start = greeting_then(fading)
    assert_one_beep(detect(line(audio)), start, 0.6, 1000)
    wobbling = 0.1 * np.sin(2 * np.pi * 850 * t - 1.5 * np.cos(2 * np.pi * 6 * t))  # ±1 %
    audio, start = greeting_then(wobbling.astype(np.float32))
    assert_one_beep(detect(line(audio)), start, 0.6, 850)


@pytest.mark.parametrize("offset", [0.0, 0.004, 0.008, 0.012, 0.016])
def test_the_edges_are_found_within_a_few_milliseconds_wherever_they_fall(offset: float) -> None:
    audio, start = greeting_then(np.concatenate((quiet(offset), tone((1000,), 0.13))))
    [(beep, _)] = detect(line(audio))
    assert beep.start == pytest.approx(start + offset, abs=0.005)
    assert beep.end == pytest.approx(start + offset + 0.13, abs=0.005)


def test_each_beep_is_reported_once_and_one_push_gives_the_first() -> None:
    beeps = (tone((1000,), 0.3), tone((1400,), 0.3), quiet(0.5), tone((2000,), 0.3))
    audio, start = greeting_then(np.concatenate(beeps))
    samples = line(audio)
    found = [beep for beep, _ in detect(samples)]
    assert [round(beep.frequency, -1) for beep in found] == [1000, 1400, 2000]
    assert found[0].end == pytest.approx(start + 0.3, abs=0.01)  # a change of pitch, no pause
    assert found[1].start == pytest.approx(start + 0.3, abs=0.01)
    [(first, _)] = detect(samples, size=samples.size)
    assert first == found[0]


@pytest.mark.parametrize("size", [160, 333, 960, 80_000])
@pytest.mark.parametrize("float_samples", [False, True])
def test_any_push_size_and_sample_type_give_the_same_beep(size: int, float_samples: bool) -> None:
    samples = line(greeting_then(tone((1400,), 0.5))[0])
    fed = (samples / 32768).astype(np.float32) if float_samples else samples
    [(beep, _)] = detect(fed, size=size)
    [(reference, _)] = detect(samples)
    assert beep == reference


def test_tone_started_holds_while_a_beep_sounds_long_enough() -> None:
    audio, start = greeting_then(tone((1000,), 0.5))
    samples = line(audio)
    detector = BeepDetector(RATE)
    started = []
    for at in range(0, samples.size, 160):
        detector.push(samples[at : at + 160])
        if detector.tone_started:
            started.append((at + 160) / RATE)
    assert start + MIN_SECONDS <= started[0] <= start + MIN_SECONDS + 0.04
    assert start + 0.5 - 0.02 <= started[-1] <= start + 0.5 + 0.04
    assert len(started) == round((started[-1] - started[0]) / 0.02) + 1  # every push between


@pytest.mark.parametrize("voice", ["en-us", "en-gb+f3", "en-us+m3", "en-us+f2"])
def test_speech_has_no_beep(voice: str) -> None:
    assert detect(line(speech(SENTENCES, voice))) == []


@pytest.mark.parametrize(
    "audio",
    [
        pytest.param(quiet(3), id="line noise"),
        pytest.param(tone((697, 1209), 0.3, amplitude=0.07), id="DTMF"),
        pytest.param(tone((440, 480), 2, amplitude=0.07), id="ringback"),
        pytest.param(tone((1000,), 4), id="a tone too long"),
        pytest.param(glide(600, 1800, 0.6), id="a whistle gliding up"),
    ],
)
def test_no_beep_in(audio: Floats) -> None:
    padded = np.concatenate((quiet(0.5), audio, quiet(0.5), audio, quiet(0.5)))
    assert detect(line(padded)) == []


def test_no_beep_in_digital_silence_nor_in_a_faint_tone_there() -> None:
    assert detect(np.zeros(3 * RATE, dtype=np.int16)) == []
    faint = tone((1000,), 0.5, amplitude=10 ** (-42 / 20))  # -45 dBFS RMS
    assert detect(np.concatenate((quiet(1), faint, quiet(1)))) == []


def test_a_hum_under_speech_is_no_beep_and_a_beep_over_it_is() -> None:
    def hummed(audio: Floats) -> Floats:
        return audio + tone((600,), audio.size / RATE, amplitude=0.02)

    assert detect(line(hummed(speech(SENTENCES)))) == []
    audio, start = greeting_then(tone((1400,), 0.5))
    assert_one_beep(detect(line(hummed(audio))), start, 0.5, 1400)
