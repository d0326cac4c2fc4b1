"""Figure 4: how much faster than real time recorded calls replay in test mode.

Each fixture is replayed as the tests replay it (``run_replay(folder, fast=True)``: the virtual
clock, the recorded provider delays, the default offline voice) in one process, after one
warm-up replay that pays the process's first-call costs (imports, model loading), which is
printed apart. Speed = the call's length / the wall time of its replay.

    python -m bench.replay_speed
"""

# The virtual clock must be hooked in before livekit is imported (see replay/clock.py).
from agent_runtime.replay.clock import install_clock_hook

install_clock_hook()

import argparse  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import sys  # noqa: E402
import tempfile  # noqa: E402
from pathlib import Path  # noqa: E402

from agent_runtime.replay import clock  # noqa: E402

from .common import CALLS, FIXTURES, STANDALONE_FIXTURES, machine, table  # noqa: E402

SOUNDS = ("sounds_plain", "sounds_thinking", "sounds_no_thinking", "sounds_full_volume")


def replay_once(folder: Path) -> tuple[float, float, str]:
    """Replay ``folder`` on the virtual clock: (call seconds, wall seconds, voice engine)."""
    from agent_runtime.replay.run import run_replay

    with tempfile.TemporaryDirectory() as tmp:
        start = clock._real_perf_counter()
        result = run_replay(folder, fast=True, output_dir=Path(tmp))
        wall = clock._real_perf_counter() - start
    return result.call.report.runtime.duration or 0.0, wall, result.tts_engine


def main(argv: list[str] | None = None) -> list[tuple[str, float, float]]:
    parser = argparse.ArgumentParser(prog="python -m bench.replay_speed", description=__doc__)
    parser.add_argument("--bench-calls", action="store_true", help="also bench/calls/pauses_*")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    logging.getLogger("livekit.agents").setLevel(logging.CRITICAL)
    folders = [FIXTURES / name for name in (*STANDALONE_FIXTURES, *SOUNDS)]
    if args.bench_calls:
        folders += sorted(CALLS.glob("pauses_*"))
    print(f"replay speed on the virtual clock (test mode); {machine()}")
    first_length, first_wall, engine = replay_once(folders[0])
    print(
        f"warm-up: the process's first replay ({folders[0].name}) took {first_wall:.1f} s"
        f" for {first_length:.1f} s of call; voice: {engine}"
    )
    rows = []
    figures = []
    for folder in folders:
        length, wall, _ = replay_once(folder)
        figures.append((folder.name, length, wall))
        rows.append([folder.name, f"{length:.1f} s", f"{wall:.2f} s", f"{length / wall:.1f}x"])
    total_length = sum(f[1] for f in figures)
    total_wall = sum(f[2] for f in figures)
    rows.append(
        [
            "overall",
            f"{total_length:.1f} s",
            f"{total_wall:.2f} s",
            f"{total_length / total_wall:.1f}x",
        ]
    )
    print(
        table(["recorded call", "call length", "replay wall time", "faster than real time"], rows)
    )
    if args.json:
        Path(args.json).write_text(json.dumps(figures, indent=2))
    return figures


if __name__ == "__main__":
    main(sys.argv[1:])
