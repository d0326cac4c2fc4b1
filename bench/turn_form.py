"""The form of a turn set: a folder of mono WAV files, one caller turn each, and ``turns.json``.

``turns.json`` is a list of objects:

- ``file`` (required): the WAV file, relative to the folder;
- ``text`` (required): what the caller says;
- ``segments`` (required): the text spoken between pauses, in order;
- ``mid_pauses_s`` (required): the pause lengths between segments (one fewer than segments);
- ``kind``: ``turn`` (the default): the agent answers it; ``backchannel`` ("mm-hm") or
  ``interruption``: said while the agent speaks, which must go on, or stop;
- ``voice``: ``family:name@speed`` (``espeak:en-us+f3@1.1``, ``piper:joe@0.9``), for the
  figures per voice family;
- ``category``: what kind of turn (``digits``, ``list``, ``short``...);
- ``segment_times``: ``[start, end]`` of each segment's speech in the file, in seconds;
  without it they are found in the audio (the loud stretches, split at the longest silences).

``load`` checks the whole file: a missing key, a WAV that is not there or not mono, pauses
that do not match the segments, each is a ``TurnSetError`` naming the entry and the problem.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import numpy.typing as npt
import soundfile

from .turn_texts import Kind

KINDS: tuple[Kind, ...] = ("turn", "backchannel", "interruption")


class TurnSetError(Exception):
    """A turn set that cannot be used: what is wrong, and where."""


@dataclass(frozen=True)
class TurnEntry:
    """One caller turn of a turn set."""

    file: str
    text: str
    segments: list[str]
    mid_pauses_s: list[float]
    kind: Kind = "turn"
    voice: str = ""
    category: str = ""
    segment_times: list[list[float]] | None = None

    @property
    def family(self) -> str:
        """The voice family (``espeak``, ``piper``), or ``unknown``."""
        family = self.voice.partition(":")[0]
        return family if self.voice and ":" in self.voice else "unknown"

    def to_json(self) -> dict[str, Any]:
        """The entry as ``turns.json`` holds it (optional keys left out when unset)."""
        data = asdict(self)
        return {k: v for k, v in data.items() if v not in ("", None)}


def write(folder: Path, entries: list[TurnEntry]) -> None:
    """Write ``turns.json`` into ``folder``."""
    (folder / "turns.json").write_text(json.dumps([e.to_json() for e in entries], indent=1))


def load(folder: Path) -> list[TurnEntry]:
    """The entries of the turn set in ``folder``, checked."""
    path = folder / "turns.json"
    if not path.is_file():
        raise TurnSetError(f"{folder}: no turns.json (see bench/turn_form.py for the form)")
    try:
        raw = json.loads(path.read_text())
    except (json.JSONDecodeError, UnicodeDecodeError) as err:
        raise TurnSetError(f"{path}: not JSON ({err})") from None
    if not isinstance(raw, list) or not raw:
        raise TurnSetError(f"{path}: expected a non-empty list of turn objects")
    return [_entry(folder, index, item) for index, item in enumerate(raw)]


def _entry(folder: Path, index: int, item: object) -> TurnEntry:
    where = f"{folder / 'turns.json'} entry {index}"
    if not isinstance(item, dict):
        raise TurnSetError(f"{where}: not an object")
    missing = [k for k in ("file", "text", "segments", "mid_pauses_s") if k not in item]
    if missing:
        raise TurnSetError(f"{where}: missing {', '.join(missing)}")
    unknown = set(item) - set(TurnEntry.__dataclass_fields__)
    if unknown:
        raise TurnSetError(f"{where}: unknown keys {', '.join(sorted(unknown))}")
    segments, pauses = item["segments"], item["mid_pauses_s"]
    if (
        not isinstance(segments, list)
        or not segments
        or not all(isinstance(s, str) for s in segments)
    ):
        raise TurnSetError(f"{where}: segments must be a non-empty list of strings")
    if not isinstance(pauses, list) or not all(isinstance(p, int | float) for p in pauses):
        raise TurnSetError(f"{where}: mid_pauses_s must be a list of numbers")
    if len(pauses) != len(segments) - 1:
        raise TurnSetError(
            f"{where}: {len(segments)} segments need {len(segments) - 1} mid_pauses_s,"
            f" not {len(pauses)}"
        )
    kind = item.get("kind", "turn")
    if kind not in KINDS:
        raise TurnSetError(f"{where}: kind {kind!r} is not one of {', '.join(KINDS)}")
    times = item.get("segment_times")
    if times is not None and (
        not isinstance(times, list)
        or len(times) != len(segments)
        or not all(isinstance(t, list) and len(t) == 2 for t in times)
    ):
        raise TurnSetError(f"{where}: segment_times must hold one [start, end] per segment")
    wav = folder / str(item["file"])
    if not wav.is_file():
        raise TurnSetError(f"{where}: {wav} does not exist")
    try:
        info = soundfile.info(str(wav))
    except (soundfile.LibsndfileError, RuntimeError) as err:
        raise TurnSetError(f"{where}: {wav} is not readable audio ({err})") from None
    if info.channels != 1:
        raise TurnSetError(f"{where}: {wav} has {info.channels} channels, not 1")
    return TurnEntry(
        file=str(item["file"]),
        text=str(item["text"]),
        segments=list(segments),
        mid_pauses_s=[float(p) for p in pauses],
        kind=cast(Kind, kind),
        voice=str(item.get("voice", "")),
        category=str(item.get("category", "")),
        segment_times=None if times is None else [[float(a), float(b)] for a, b in times],
    )


def read_audio(folder: Path, entry: TurnEntry) -> tuple[npt.NDArray[np.float64], int]:
    """The entry's samples (float, -1..1) and rate."""
    data, rate = soundfile.read(str(folder / entry.file), dtype="float64")
    return np.asarray(data, dtype=np.float64), int(rate)


def segment_times(entry: TurnEntry, audio: npt.NDArray[np.float64], rate: int) -> list[list[float]]:
    """Where each segment's speech is in ``audio``: ``entry.segment_times``, or found.

    Found: 10 ms frames louder than 30 dB under the loudest are speech; the speech from the
    first to the last such frame is split at its ``len(segments) - 1`` longest silences.
    """
    if entry.segment_times is not None:
        return entry.segment_times
    frame = max(1, rate // 100)
    count = len(audio) // frame
    if count == 0:
        raise TurnSetError(f"{entry.file}: no audio")
    rms = np.sqrt(np.mean(audio[: count * frame].reshape(count, frame) ** 2, axis=1))
    loud = np.flatnonzero(rms > rms.max() * 10 ** (-30 / 20))
    gaps = [(b - a, a, b) for a, b in zip(loud, loud[1:], strict=False) if b - a > 1]
    splits = sorted(sorted(gaps, reverse=True)[: len(entry.segments) - 1], key=lambda g: g[1])
    if len(splits) < len(entry.segments) - 1:
        raise TurnSetError(f"{entry.file}: fewer silences than mid_pauses_s in the audio")
    bounds = [int(loud[0])]
    for _, a, b in splits:
        bounds += [int(a) + 1, int(b)]
    bounds.append(int(loud[-1]) + 1)
    step = frame / rate
    return [
        [round(bounds[i] * step, 3), round(bounds[i + 1] * step, 3)]
        for i in range(0, len(bounds), 2)
    ]
