"""What mixing costs per 20 ms output frame, against the frame's 20 ms deadline.

Times ``CallAudioOutput``'s per-frame mix (voice gain, layers, limiter, int16 frame) at the
output rate, for the voice alone (the baseline) and with the office ambience and a thinking
clip, plus the one-off cost of decoding a clip into the process cache. Prints figures only.

    python -m bench.mixer
"""

from __future__ import annotations

import json
import statistics
import time
from collections.abc import Callable

import numpy as np
import numpy.typing as npt
from livekit import rtc

from agent_runtime.config.loading import load_text
from agent_runtime.media import clip_cache
from agent_runtime.media.output import FRAME_SECONDS, CallAudioOutput
from agent_runtime.media.sounds import CallSounds

RATE = 24000
FRAMES = 5000
REPEATS = 5
THINKING = "hold_music.ogg"


class NullSink:
    """Accepts frames and drops them."""

    async def write(self, frame: rtc.AudioFrame) -> None:
        """Drop ``frame``."""

    async def wait_for_playout(self) -> None:
        """Nothing is buffered."""


def sounds() -> CallSounds:
    document = {
        "call": {
            "id": "call_bench",
            "direction": "inbound",
            "assistant": {
                "prompt": "Bench.",
                "background_sound": "audio/office.ogg",
                "background_sound_volume": 1.0,
                "thinking_sound": THINKING,
                "thinking_sound_volume": 1.0,
            },
        }
    }
    return CallSounds.for_call(load_text(json.dumps(document), source="bench"), sample_rate=RATE)


def per_frame(mix: Callable[[], object]) -> float:
    """Median over ``REPEATS`` runs of the mean time of one call to ``mix``, in microseconds."""
    runs = []
    for _ in range(REPEATS):
        start = time.perf_counter()
        for _ in range(FRAMES):
            mix()
        runs.append((time.perf_counter() - start) / FRAMES * 1e6)
    return statistics.median(runs)


def load_ms(path: str) -> tuple[float, float]:
    """Milliseconds to prepare ``path`` the first time (decode, resample, loop) and once cached."""
    start = time.perf_counter()
    clip_cache.make_loop(clip_cache.decode(path, RATE), RATE)
    first = time.perf_counter() - start
    clip_cache.load_loop(path, RATE)
    start = time.perf_counter()
    clip_cache.LoopedClip(path, RATE)
    return first * 1e3, (time.perf_counter() - start) * 1e3


def main() -> None:
    size = int(RATE * FRAME_SECONDS)
    rng = np.random.default_rng(0)
    voice: npt.NDArray[np.int16] = rng.normal(0, 3000, size).astype(np.int16)
    silence = np.zeros(0, dtype=np.int16)

    call = sounds()
    assert call.thinking is not None
    call.thinking.set_thinking(True)
    plain = CallAudioOutput(NullSink(), sample_rate=RATE)
    mixed = CallAudioOutput(NullSink(), sample_rate=RATE, layers=call.layers)
    loud = CallAudioOutput(NullSink(), sample_rate=RATE, layers=call.layers, voice_gain=8.0)

    # ``_mix`` is the pacer's whole per-frame work: voice gain, layers, limiter, int16 frame.
    rows = [
        ("voice only (baseline)", per_frame(lambda: plain._mix(voice))),
        ("voice + ambient (thinking silent: voice)", per_frame(lambda: mixed._mix(voice))),
        ("ambient + thinking (agent thinking)", per_frame(lambda: mixed._mix(silence))),
        ("voice x8 + ambient (limiter bending)", per_frame(lambda: loud._mix(voice))),
    ]
    deadline = FRAME_SECONDS * 1e6
    baseline = rows[0][1]
    print(f"mixer cost per {FRAME_SECONDS * 1e3:.0f} ms frame at {RATE} Hz ({size} samples)")
    for name, cost in rows:
        print(
            f"  {name:40s} {cost:7.1f} us  {cost / deadline:6.2%} of the deadline"
            f"  (+{cost - baseline:5.1f} us over the baseline)"
        )
    print("clip preparation: first request of the process, then every later call (cached)")
    for name, path in (
        ("audio/office.ogg", clip_cache.background_path("audio/office.ogg")),
        (THINKING, clip_cache.thinking_path(THINKING)),
    ):
        first, cached = load_ms(path)
        print(f"  {name:40s} {first:7.1f} ms, then {cached * 1e3:5.1f} us")


if __name__ == "__main__":
    main()
