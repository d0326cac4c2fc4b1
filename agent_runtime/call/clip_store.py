"""Rendered sentences kept on disk, shared by the job processes of one machine.

A LiveKit job process serves one call, so a cache in memory never sees a second call; on disk,
a greeting rendered by one call plays at once in every later call with the same voice and text.
Only sentences without prompt variables are stored (no caller data on disk). Files are named by
a hash of the voice settings and the text, written atomically, and the oldest are removed beyond
``capacity``. The directory is created private to the worker's user. Any disk error only costs
the speed-up: the sentence is synthesised as if it were not stored.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import soundfile as sf
from livekit import rtc

from ..log import logger
from ..media.output import FRAME_SECONDS

DEFAULT_DIR = Path.home() / ".cache" / "agent-runtime" / "clips"


class ClipStore:
    """A directory of rendered sentences (16-bit WAV files)."""

    def __init__(self, directory: Path, *, capacity: int = 500) -> None:
        self.directory = directory
        self.capacity = capacity

    def path(self, voice_key: str, text: str) -> Path:
        """The file of ``text`` said with ``voice_key``."""
        digest = hashlib.sha256(f"{voice_key}\n{text}".encode()).hexdigest()
        return self.directory / f"{digest}.wav"

    def load(self, voice_key: str, text: str) -> tuple[rtc.AudioFrame, ...] | None:
        """The stored frames (20 ms each), or None if there are none or they cannot be read."""
        path = self.path(voice_key, text)
        if not path.is_file():
            return None
        try:
            samples, rate = sf.read(path, dtype="int16", always_2d=True)
        except (OSError, RuntimeError, sf.LibsndfileError) as err:
            logger.warning("stored clip unreadable, removing it: %s", type(err).__name__)
            path.unlink(missing_ok=True)
            return None
        with contextlib.suppress(OSError):
            os.utime(path)  # recently used: evicted last
        mono = np.ascontiguousarray(samples[:, 0])
        step = max(int(rate * FRAME_SECONDS), 1)
        return tuple(
            rtc.AudioFrame(chunk.tobytes(), rate, 1, int(chunk.size))
            for chunk in (mono[i : i + step] for i in range(0, mono.size, step))
        )

    def save(self, voice_key: str, text: str, frames: Sequence[rtc.AudioFrame]) -> None:
        """Store ``frames`` (one rate, mono or first channel kept); errors are only logged."""
        if not frames:
            return
        rate = frames[0].sample_rate
        if any(f.sample_rate != rate for f in frames):
            return  # never happens with one TTS stream; not worth storing if it does
        samples = np.concatenate(
            [
                np.frombuffer(f.data, dtype=np.int16).reshape(-1, f.num_channels)[:, 0]
                for f in frames
            ]
        )
        temporary: str | None = None
        try:
            self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
            handle, temporary = tempfile.mkstemp(dir=self.directory, suffix=".tmp")
            with os.fdopen(handle, "wb") as file:
                sf.write(file, samples, rate, format="WAV", subtype="PCM_16")
            os.replace(temporary, self.path(voice_key, text))
            temporary = None
            self._evict()
        except (OSError, RuntimeError, sf.LibsndfileError) as err:
            logger.warning("could not store a rendered clip: %s", type(err).__name__)
        finally:
            if temporary is not None:
                Path(temporary).unlink(missing_ok=True)

    def save_if_missing(self, voice_key: str, text: str, frames: Sequence[rtc.AudioFrame]) -> None:
        """Store ``frames`` unless this text is stored already."""
        if not self.path(voice_key, text).is_file():
            self.save(voice_key, text, frames)

    def _evict(self) -> None:
        files = sorted(self.directory.glob("*.wav"), key=lambda p: p.stat().st_mtime)
        for stale in files[: max(len(files) - self.capacity, 0)]:
            stale.unlink(missing_ok=True)
