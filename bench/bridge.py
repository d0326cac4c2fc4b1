"""What the warm-transfer bridge adds: audio delay each way, and CPU per minute of bridged call.

Both phone legs live in this process, as real livekit ``rtc`` objects: each person's voice is an
``rtc.AudioSource`` behind a ``LocalAudioTrack`` (a local track needs no server), read with
``rtc.AudioStream``s. Each way, two listeners hear the same voice: one reads the speaker's track
directly (the reference), the other reads it through the bridge's ``TrackRelay``
(``AudioStream`` -> relay -> its own ``AudioSource`` -> ``LocalAudioTrack``), the in-agent hop
``AudioBridge`` adds between the two rooms. Both ways run at once.

A click at a random place in its frame, every half second, is found by both listeners: the
bridge's added delay is, click by click, the time the bridged listener received it minus the
time the direct one did (each corrected by the click's place in its frame), so the speaker's
own buffering cancels out. A first run with two direct listeners each way gives the same
figure without a bridge: the measurement's floor, and the CPU baseline. The bridge's CPU is the
process CPU (all threads) of the bridged run minus the baseline's, over the same time. Not in
this path: the network, the SFU, Opus and the jitter buffer of the extra hop (see
docs/telephony.md). About 70 seconds.

    python -m bench.bridge [--seconds 30] [--json out.json]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import numpy.typing as npt
from livekit import rtc

from agent_runtime.media import bridge
from agent_runtime.media.bridge import BRIDGE_SAMPLE_RATE, TrackRelay

from .common import cpu_seconds, machine, percentile, table

RATE = BRIDGE_SAMPLE_RATE
FRAME_MS = 20
"""Each person speaks, and hears, in 20 ms frames (as RTP carries telephone audio)."""
FRAME = RATE * FRAME_MS // 1000
SPEAKER_QUEUE_MS = 60
"""The queue of each person's own source (the phone leg's stand-in)."""
MARK_EVERY_FRAMES = 25
"""A click every 25 frames: every half second."""
WARMUP = 2.0
"""Seconds run before anything is counted."""
THRESHOLD = 8000
CLICK: npt.NDArray[np.int16] = (
    16000 * np.sin(2 * np.pi * 2000 * np.arange(RATE // 500) / RATE)
).astype(np.int16)
"""A 2 ms burst of 2 kHz: the marker."""
CLICK_ONSET = int(np.flatnonzero(np.abs(CLICK) > THRESHOLD)[0])
WAYS = ("caller -> supervisor", "supervisor -> caller")


@dataclass
class Way:
    """One direction: the clicks sent into it, and when each listener heard each of them."""

    name: str
    sent: list[float] = field(default_factory=list)
    heard: dict[str, dict[int, float]] = field(default_factory=lambda: {"direct": {}, "far": {}})
    counting: bool = False

    def click_heard(self, listener: str, at: float) -> None:
        """Match a click ``listener`` heard at ``at`` with the last one sent before it."""
        index = next((i for i in range(len(self.sent) - 1, -1, -1) if self.sent[i] <= at), None)
        heard = self.heard[listener]
        if index is None or index in heard or not self.counting:
            return
        if at - self.sent[index] < MARK_EVERY_FRAMES * FRAME_MS / 1000:
            heard[index] = at

    def delays(self) -> tuple[list[float], list[float]]:
        """Per click heard by both: (direct listener - sent, far listener - direct listener)."""
        direct, far = self.heard["direct"], self.heard["far"]
        both = sorted(set(direct) & set(far))
        return [direct[i] - self.sent[i] for i in both], [far[i] - direct[i] for i in both]


@dataclass
class Run:
    """One run: both ways, and the CPU it used while counting."""

    ways: list[Way]
    cpu: float
    seconds: float
    relayed: int = 0


async def speak(source: rtc.AudioSource, way: Way, stop: asyncio.Event, seed: int) -> None:
    """Play silence with a click every half second into ``source``, paced in real time."""
    rng = np.random.default_rng(seed)
    loop = asyncio.get_running_loop()
    start = loop.time()
    index = 0
    while not stop.is_set():
        await asyncio.sleep(max(0.0, start + index * FRAME_MS / 1000 - loop.time()))
        samples = np.zeros(FRAME, dtype=np.int16)
        onset: int | None = None
        if index % MARK_EVERY_FRAMES == MARK_EVERY_FRAMES // 2:
            at = int(rng.integers(0, FRAME - len(CLICK)))
            samples[at : at + len(CLICK)] = CLICK
            onset = at + CLICK_ONSET
        handed = time.perf_counter()
        await source.capture_frame(rtc.AudioFrame(samples.tobytes(), RATE, 1, FRAME))
        if onset is not None:
            way.sent.append(handed + onset / RATE)
        index += 1


async def listen(stream: rtc.AudioStream, way: Way, listener: str) -> None:
    """Find the clicks in what ``stream`` delivers."""
    async for event in stream:
        received = time.perf_counter()
        samples = np.frombuffer(event.frame.data, dtype=np.int16)
        loud = np.flatnonzero(np.abs(samples) > THRESHOLD)
        if loud.size:
            way.click_heard(listener, received + int(loud[0]) / RATE)


async def run(*, bridged: bool, seconds: float) -> Run:
    """Run both ways for ``WARMUP`` + ``seconds``; count clicks and CPU after the warm-up."""
    stop = asyncio.Event()
    ways = [Way(name) for name in WAYS]
    sources: list[rtc.AudioSource] = []
    relays: list[TrackRelay] = []
    streams: list[rtc.AudioStream] = []
    tasks: list[asyncio.Task[None]] = []
    try:
        for seed, way in enumerate(ways):
            voice = rtc.AudioSource(RATE, 1, queue_size_ms=SPEAKER_QUEUE_MS)
            sources.append(voice)
            spoken = rtc.LocalAudioTrack.create_audio_track(way.name, voice)
            far: rtc.Track = spoken
            if bridged:
                relayed = rtc.AudioSource(RATE, 1, queue_size_ms=bridge.SOURCE_QUEUE_MS)
                sources.append(relayed)
                relay = TrackRelay(relayed)
                relays.append(relay)
                relay.attach(spoken)
                far = rtc.LocalAudioTrack.create_audio_track(f"{way.name} relayed", relayed)
            for listener, track in (("direct", spoken), ("far", far)):
                stream = rtc.AudioStream.from_track(
                    track=track, sample_rate=RATE, num_channels=1, frame_size_ms=FRAME_MS
                )
                streams.append(stream)
                tasks.append(asyncio.create_task(listen(stream, way, listener)))
            tasks.append(asyncio.create_task(speak(voice, way, stop, seed)))
        await asyncio.sleep(WARMUP)
        for way in ways:
            way.counting = True
        cpu, started = cpu_seconds(), time.perf_counter()
        await asyncio.sleep(seconds)
        cpu, elapsed = cpu_seconds() - cpu, time.perf_counter() - started
        for way in ways:
            way.counting = False
    finally:
        stop.set()
        for relay in relays:
            await relay.aclose()
        for stream in streams:
            await stream.aclose()
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        for source in sources:
            await source.aclose()
    return Run(
        ways,
        cpu,
        elapsed,
        relayed=sum(r.relayed for r in relays),
    )


def _ms(value: float | None) -> str:
    return "-" if value is None else f"{value * 1000:.1f} ms"


def summary(baseline: Run, bridged: Run) -> dict[str, object]:
    """The figures of both runs, and what the bridge adds."""
    ways: dict[str, dict[str, float | int | None]] = {}
    for base, through in zip(baseline.ways, bridged.ways, strict=True):
        _, floor = base.delays()
        direct, added = through.delays()
        ways[base.name] = {
            "direct_p50": percentile(direct, 50),
            "floor_p50": percentile(floor, 50),
            "added_p50": percentile(added, 50),
            "added_p95": percentile(added, 95),
            "clicks": len(added),
        }
    per_minute = {
        "baseline": baseline.cpu / baseline.seconds * 60,
        "bridged": bridged.cpu / bridged.seconds * 60,
    }
    return {
        "machine": machine(),
        "seconds": bridged.seconds,
        "ways": ways,
        "cpu_seconds_per_minute": per_minute,
        "added_cpu_seconds_per_minute": per_minute["bridged"] - per_minute["baseline"],
        "frames_relayed": bridged.relayed,
        "load_average": os.getloadavg()[0],
    }


def report(figures: dict[str, object]) -> str:
    """The figures as text."""
    ways = figures["ways"]
    assert isinstance(ways, dict)
    rows = [
        (
            name,
            _ms(w["direct_p50"]),
            _ms(w["floor_p50"]),
            _ms(w["added_p50"]),
            _ms(w["added_p95"]),
            w["clicks"],
        )
        for name, w in ways.items()
    ]
    per_minute = figures["cpu_seconds_per_minute"]
    assert isinstance(per_minute, dict)
    added = figures["added_cpu_seconds_per_minute"]
    assert isinstance(added, float)
    lines = [
        f"bridge benchmark on {figures['machine']}: {RATE} Hz, speakers in {FRAME_MS} ms "
        f"frames, relay in {bridge.FRAME_MS} ms frames",
        "",
        table(
            ["way", "direct p50", "floor p50", "added p50", "added p95", "clicks"],
            rows,
        ),
        "(direct: speaker to direct listener; floor: the same difference without a bridge)",
        "",
        f"CPU per minute of call, both ways: direct {per_minute['baseline']:.2f} s, "
        f"bridged {per_minute['bridged']:.2f} s",
        f"added by the bridge: {added:.2f} CPU-seconds per minute of bridged call "
        f"({added / 60 * 100:.1f}% of one core)",
        f"frames relayed: {figures['frames_relayed']}; load average during the run: "
        f"{figures['load_average']:.1f} (the figures grow with the machine's load)",
    ]
    return "\n".join(lines)


async def main_async(seconds: float) -> dict[str, object]:
    """Run the baseline, then the bridge, and sum them up."""
    baseline = await run(bridged=False, seconds=seconds)
    bridged = await run(bridged=True, seconds=seconds)
    return summary(baseline, bridged)


def main() -> None:
    """Parse the options, run, print (and write ``--json``)."""
    parser = argparse.ArgumentParser(prog="python -m bench.bridge", description=__doc__)
    parser.add_argument("--seconds", type=float, default=30.0, help="counted seconds per run")
    parser.add_argument("--json", type=Path, help="also write the figures to this file")
    args = parser.parse_args()
    if args.seconds <= 0:
        parser.error("--seconds must be positive")
    figures = asyncio.run(main_async(args.seconds))
    print(report(figures))
    if args.json is not None:
        args.json.write_text(json.dumps(figures, indent=2))


if __name__ == "__main__":
    main()
