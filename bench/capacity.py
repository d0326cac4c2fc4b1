"""Capacity: how many concurrent calls a core holds before the callers notice.

N copies of a recorded call (``bench/calls/steady`` by default: greeting, six caller turns
said in one go, office ambience and a thinking sound; about a minute) run at real speed with
instant fakes, a process per call forked as the worker forks them, starting at random offsets
within ``--stagger`` seconds (as calls arrive in a fleet). N grows until the calls degrade; for
each N:

- answer time: from the end of the caller's speech (``stt.json``) to the agent's first audio
  frame after it, every turn of every call; a turn the agent never answered (before the
  caller's next turn or the hang-up) counts as slower than any answer;
- audible gaps: the output pacer fell behind its 20 ms schedule by more than ``GAP_LIMIT`` at
  once (smaller delays are absorbed downstream; see docs/performance.md, "Capacity"); also the
  late frames and the seconds of gap per call-minute, as in ``bench.cost``;
- cut last answers: calls whose caller hung up while the agent was still speaking;
- CPU seconds per call-minute.

A level passes when the answer time's p95 is under ``ANSWER_LIMIT`` and no call had an audible
gap. The capacity is the largest N that passes, over the usable cores
(``agent_runtime.worker.load.usable_cores``): the calls per core the worker's load
(``AGENT_CALLS_PER_CORE``) is set from. The levels are run in increasing order and stop at the
first that fails (``--all`` runs them all). The bare ``AgentSession`` baseline
(``bench/harness.py``) then runs at the capacity's N, and at the first failing N.

The end-of-turn wait is fixed at the runtime's minimum (0.3 s, the wait of a turn the
end-of-turn model is sure of) for every turn: on the espeak callers the model would otherwise
wait its 2.5 s maximum on about half of the turns (figure 2), a policy wait that has nothing to
do with load and would hide what load does. The model still runs on every turn.

Each level takes about 1.5 minutes (the call is 69 s long; each level runs in fresh processes).

    python -m bench.capacity               # 1, 2, ... 5 calls per core: 5-11 minutes
    python -m bench.capacity --quick       # 0.5 and 1 call per core, the short call: 4 minutes
    python -m bench.capacity --per-core 3,3.5,4 --all --call bench/calls/typical
"""

from __future__ import annotations

import argparse
import json
import math
import os
import random
import sys
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.worker.load import usable_cores

from .common import CALLS, machine, table
from .harness import CallOutcome
from .latency import Latencies, Turn, analyse, caller_turns
from .measure import measure

DEFAULT_CALL = CALLS / "steady"
QUICK_CALL = CALLS / "typical"
ANSWER_LIMIT = 1.0
"""Seconds: the p95 of the answer time a level must stay under."""
GAP_LIMIT = 0.1
"""Seconds: a gap in the agent's audio longer than this is audible (one call with one fails
the level)."""
TURN = {"min_endpointing_delay": 0.3, "max_endpointing_delay": 0.3}
"""The end-of-turn wait, fixed at the runtime's minimum (see the module's docstring)."""
PER_CORE = "1,2,3,4,5"
QUICK_PER_CORE = "0.5,1"


@dataclass
class Level:
    """What N concurrent calls of one implementation did."""

    impl: str
    calls: int
    per_core: float
    answers: list[float] = field(default_factory=list)
    """Answer time of every turn, seconds; ``inf`` for a turn never answered."""
    late_frames: int = 0
    gap_per_minute: float = 0.0
    longest_gaps: list[float] = field(default_factory=list)
    """Each call's longest single gap, seconds."""
    cut_last: int = 0
    cpu_per_minute: float = 0.0
    errors: list[str] = field(default_factory=list)
    wall: float = 0.0

    def answer(self, q: float) -> float | None:
        """The ``q``-th percentile of the answer time (nearest rank; unanswered turns last)."""
        if not self.answers:
            return None
        ordered = sorted(self.answers)
        return ordered[max(math.ceil(q / 100 * len(ordered)) - 1, 0)]

    @property
    def unanswered(self) -> int:
        """Turns the agent never answered."""
        return sum(1 for a in self.answers if math.isinf(a))

    @property
    def gapped_calls(self) -> int:
        """Calls with at least one audible gap."""
        return sum(1 for g in self.longest_gaps if g > GAP_LIMIT)

    @property
    def passes(self) -> bool:
        """p95 answer time under the limit, no audible gap, every call ran to its end."""
        p95 = self.answer(95)
        return (
            p95 is not None
            and p95 < ANSWER_LIMIT
            and self.gapped_calls == 0
            and not self.errors
            and len(self.longest_gaps) == self.calls
        )


def run_level(
    impl: str, calls: int, *, cores: float, folders: list[Path], stagger: float, seed: int
) -> Level:
    """Run ``calls`` concurrent calls of ``impl`` (round-robin over ``folders``), measured."""
    rng = random.Random(seed * 1000 + calls)
    specs = [
        {
            "impl": impl,
            "folder": str(folders[i % len(folders)]),
            "offset": rng.uniform(0, stagger),
            "turn": TURN,
        }
        for i in range(calls)
    ]
    result = measure("process", specs)
    turns = {f.name: caller_turns(RecordedCall.load(f)) for f in folders}
    hangups = {f.name: RecordedCall.load(f).hangup_at for f in folders}
    level = Level(impl, calls, calls / cores, errors=list(result["errors"]), wall=result["wall"])
    minutes = 0.0
    cpu = 0.0
    gap = 0.0
    for raw in result["outcomes"]:
        outcome = CallOutcome.from_json(raw)
        level.answers += answer_times(outcome, turns[outcome.name])
        level.late_frames += outcome.late_frames
        level.longest_gaps.append(outcome.longest_gap)
        level.cut_last += cut_last_answer(outcome, hangups[outcome.name])
        minutes += outcome.duration / 60
        cpu += outcome.cpu
        gap += outcome.late_seconds
    # a call that failed or hung answered none of its turns
    missing = Counter(Path(str(s["folder"])).name for s in specs)
    missing.subtract(o["name"] for o in result["outcomes"])
    for name, count in missing.items():
        level.answers += [math.inf] * max(count, 0) * len(turns[name])
    level.cpu_per_minute = cpu / minutes if minutes else 0.0
    level.gap_per_minute = gap / minutes if minutes else 0.0
    return level


def answer_times(outcome: CallOutcome, turns: list[Turn]) -> list[float]:
    """The answer time of each caller turn of ``outcome``; ``inf`` for each unanswered one."""
    into = Latencies(outcome.impl)
    analyse(outcome, turns, into)
    return [t.total for t in into.turns] + [math.inf] * into.unanswered


def cut_last_answer(outcome: CallOutcome, hangup_at: float) -> bool:
    """Whether the caller hung up while the agent was speaking."""
    hangup = outcome.caller_offset + hangup_at
    return outcome.voice_end is not None and outcome.voice_end > hangup - 0.05


def _seconds(value: float | None) -> str:
    if value is None:
        return "-"
    return "never" if math.isinf(value) else f"{value * 1000:.0f} ms"


def report(levels: list[Level]) -> str:
    """One row per level."""
    rows = []
    for level in levels:
        rows.append(
            [
                level.impl,
                str(level.calls),
                f"{level.per_core:.1f}",
                _seconds(level.answer(50)),
                _seconds(level.answer(95)),
                _seconds(max(level.answers) if level.answers else None),
                str(level.unanswered),
                f"{level.late_frames}, {level.gap_per_minute * 1000:.0f} ms",
                f"{level.gapped_calls} ({_seconds(max(level.longest_gaps, default=0.0))})",
                str(level.cut_last),
                f"{level.cpu_per_minute:.2f}",
                ("pass" if level.passes else "FAIL")
                + (f" ({len(level.errors)} failed)" if level.errors else ""),
            ]
        )
    return table(
        [
            "impl",
            "calls",
            "per core",
            "answer p50",
            "p95",
            "max",
            "unanswered",
            "late frames, gap/call-min",
            f"calls with a gap > {GAP_LIMIT * 1000:.0f} ms (longest)",
            "cut last answers",
            "CPU s/call-min",
            "",
        ],
        rows,
    )


def capacity(levels: list[Level]) -> Level | None:
    """The largest level of ours that passes, below the first one that fails."""
    best = None
    for level in sorted((lv for lv in levels if lv.impl == "ours"), key=lambda lv: lv.calls):
        if not level.passes:
            break
        best = level
    return best


def main(argv: list[str] | None = None) -> list[Level]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.capacity",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--quick", action="store_true", help="2 small levels, the short call")
    parser.add_argument("--per-core", help=f"calls per usable core to try (default {PER_CORE})")
    parser.add_argument(
        "--call",
        action="append",
        help=f"recorded call (repeat to mix calls round-robin; default {DEFAULT_CALL.name})",
    )
    parser.add_argument("--stagger", type=float, help="random start offsets, s (default 10)")
    parser.add_argument("--all", action="store_true", help="go on after a level fails")
    parser.add_argument("--no-bare", action="store_true", help="skip the bare baseline")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    cores = usable_cores()
    per_core = args.per_core or (QUICK_PER_CORE if args.quick else PER_CORE)
    try:
        steps = [float(v) for v in per_core.split(",") if v.strip()]
    except ValueError:
        parser.error(f"--per-core must be numbers separated by commas (got {per_core!r})")
    sizes = sorted({max(1, round(s * cores)) for s in steps})
    folders = (
        [Path(c) for c in args.call] if args.call else [QUICK_CALL if args.quick else DEFAULT_CALL]
    )
    for folder in folders:
        if not (folder / "caller.json").is_file():
            parser.error(f"--call {folder}: not a recorded call folder")
    stagger = args.stagger if args.stagger is not None else (2.0 if args.quick else 10.0)
    print(
        f"capacity: {', '.join(f.name for f in folders)}, {sizes} concurrent calls, a process per"
        f" call, real speed, instant fakes, start within {stagger:g} s; {cores:g} usable cores;"
        f" {machine()}"
    )
    busy = os.getloadavg()[0]
    if busy > 0.5:
        print(f"warning: load average {busy:.1f} before the run: the machine is not idle")
    levels: list[Level] = []
    failed: Level | None = None
    for calls in sizes:
        level = run_level(
            "ours", calls, cores=cores, folders=folders, stagger=stagger, seed=args.seed
        )
        levels.append(level)
        print(_progress(level), flush=True)
        if not level.passes and failed is None:
            failed = level
            if not args.all:
                break
    best = capacity(levels)
    if not args.no_bare:
        for reference in (best, failed):
            if reference is not None:
                level = run_level(
                    "bare",
                    reference.calls,
                    cores=cores,
                    folders=folders,
                    stagger=stagger,
                    seed=args.seed,
                )
                levels.append(level)
                print(_progress(level), flush=True)
    print()
    print(report(levels))
    print()
    print(
        f"a level passes with the answer time's p95 under {ANSWER_LIMIT * 1000:.0f} ms (end of the"
        f" caller's speech -> first agent audio, end-of-turn wait fixed at 0.3 s) and no gap"
        f" over {GAP_LIMIT * 1000:.0f} ms in any call"
    )
    if best is None:
        print("capacity: no level passed (try lower levels: --per-core 0.5,0.75,1)")
    else:
        more = "" if failed is not None else " (every level passed: try higher --per-core)"
        print(
            f"capacity: {best.calls} calls on {cores:g} cores = {best.calls / cores:.1f} calls per"
            f" core{more}"
        )
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                {
                    "cores": cores,
                    "calls_per_core": best.calls / cores if best else None,
                    "levels": [
                        {
                            **asdict(lv),
                            "answers": [a if math.isfinite(a) else None for a in lv.answers],
                        }
                        for lv in levels
                    ],
                },
                indent=2,
            )
        )
    return levels


def _progress(level: Level) -> str:
    return (
        f"  {level.impl:4s} {level.calls:3d} calls: answer p95 {_seconds(level.answer(95))},"
        f" {level.gapped_calls} calls with a gap over {GAP_LIMIT * 1000:.0f} ms,"
        f" {level.cut_last} last answers cut, {level.cpu_per_minute:.2f} CPU s/call-min"
        f" ({level.wall:.0f} s){'' if level.passes else ' -> FAIL'}"
    )


if __name__ == "__main__":
    main(sys.argv[1:])
