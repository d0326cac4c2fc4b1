"""Figure 1: what a call costs. CPU seconds per call-minute, memory per call, late frames.

N copies of a recorded call (``bench/calls/typical``: greeting, three caller turns, office
ambience and a thinking sound) run concurrently at real speed with instant fakes:

- ``inproc``: every call in one process and one event loop;
- ``process``: the LiveKit worker's model as our worker uses it: a process per call, forked
  from a forkserver that ran the framework's warm-up (``livekit.agents.ipc._preload``: the VAD
  and end-of-turn weights, loaded once and shared copy-on-write); each job process imports the
  runtime and runs our worker's ``prewarm`` before its call.

Each is measured for our runtime (``ours``: the whole ``CallRunner``) and for the baseline
(``bare``: a plain ``AgentSession`` with the same fakes, models and audio and a minimal paced
output; see ``bench/harness.py``), and the ratio ours / bare is printed. Calls start at random
offsets within ``--stagger`` seconds (their turns interleave, as in a fleet); in the worst case
(``--aligned``) N calls start together, so every call's turn ends at the same moment. Every
measurement runs in a fresh process.

    python -m bench.cost                 # 10 calls each way, also aligned (about 6 minutes)
    python -m bench.cost --full          # 1, 10, 25, 50 calls, aligned 10, 25 (25 minutes)
    python -m bench.cost --process 1,10 --inproc "" --aligned ""
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from .common import CALLS, machine, mean, num, ratio, table
from .measure import measure

DEFAULT_CALL = CALLS / "typical"


@dataclass
class Cost:
    """The figures of one measurement."""

    model: str
    impl: str
    calls: int
    aligned: bool
    cpu_per_minute: float
    """CPU seconds per call-minute: the CPU the calls used while they ran, over their length."""
    warm_cpu: float
    """CPU seconds before the call: a process per call, each job process's (imports when the
    forkserver did not preload them, the worker's prewarm); in one process, the process's."""
    memory_per_call: float
    """MiB: in one process, the peak RSS over the warmed-up process's, divided by N; a process
    per call, the PSS of all processes (the forkserver's included, each job's read near the
    end of its call) divided by N."""
    memory_fixed: float
    """MiB: in one process, the warmed-up process's RSS before any call; a process per call,
    the forkserver's PSS (the shared models and imports)."""
    unique_per_call: float | None
    """MiB, a process per call: the mean USS of a job process near the end of its call (its
    private memory: what each extra call adds)."""
    late_frames: int
    gap_per_minute: float
    """Seconds of gap per call-minute the late frames left (``OutputStats.late_seconds``)."""
    frames: int
    wall: float
    errors: int
    cpu_range: tuple[float, float] | None = None
    """Lowest and highest CPU s/call-min over repeated runs."""

    @property
    def late_share(self) -> float:
        """Late frames as a share of all frames."""
        return self.late_frames / self.frames if self.frames else 0.0


def summarise(model: str, impl: str, aligned: bool, result: dict[str, Any]) -> Cost:
    """Turn a measurement's raw result into figures."""
    outcomes = result["outcomes"]
    minutes = sum(o["duration"] for o in outcomes) / 60
    calls = len(outcomes)
    if model == "inproc":
        cpu = result["cpu"]
        warm = result["warm_cpu"]
        before = result["memory_before"]["rss"]
        per_call = (result["peak_rss"] - before) / max(calls, 1)
        fixed = before
        unique = None
    else:
        cpu = sum(o["cpu"] for o in outcomes)
        warm = mean(result["warm_cpu"]) or 0.0
        per_call = result["memory_total_pss"] / max(calls, 1)
        fixed = (result["memory_server"] or {"pss": 0.0})["pss"]
        unique = mean([j["uss"] for j in result["memory_jobs"]])
    return Cost(
        model=model,
        impl=impl,
        calls=calls,
        aligned=aligned,
        cpu_per_minute=cpu / minutes if minutes else 0.0,
        warm_cpu=warm,
        memory_per_call=per_call,
        memory_fixed=fixed,
        unique_per_call=unique,
        late_frames=sum(o["late_frames"] for o in outcomes),
        gap_per_minute=sum(o["late_seconds"] for o in outcomes) / minutes if minutes else 0.0,
        frames=sum(o["frames"] for o in outcomes),
        wall=result["wall"],
        errors=len(result.get("errors", [])),
    )


def run_one(
    model: str, impl: str, calls: int, *, aligned: bool, stagger: float, folder: Path, seed: int
) -> Cost:
    """Measure ``calls`` concurrent calls of ``impl`` with ``model``."""
    rng = random.Random(seed + calls)
    offsets = [0.0 if aligned else rng.uniform(0, stagger) for _ in range(calls)]
    specs = [{"impl": impl, "folder": str(folder), "offset": o} for o in offsets]
    return summarise(model, impl, aligned, measure(model, specs))


def median_costs(runs: list[Cost]) -> list[Cost]:
    """One ``Cost`` per measurement: the median of its runs, field by field."""
    groups: dict[tuple[str, str, int, bool], list[Cost]] = {}
    for cost in runs:
        groups.setdefault((cost.model, cost.impl, cost.calls, cost.aligned), []).append(cost)
    merged = []
    for group in groups.values():
        if len(group) == 1:
            merged.append(group[0])
            continue

        def mid(name: str, group: list[Cost] = group) -> Any:
            values = [getattr(c, name) for c in group if getattr(c, name) is not None]
            return statistics.median(values) if values else None

        cpu = [c.cpu_per_minute for c in group]
        merged.append(
            replace(
                group[0],
                cpu_per_minute=mid("cpu_per_minute"),
                cpu_range=(min(cpu), max(cpu)),
                warm_cpu=mid("warm_cpu"),
                memory_per_call=mid("memory_per_call"),
                memory_fixed=mid("memory_fixed"),
                unique_per_call=mid("unique_per_call"),
                late_frames=round(mid("late_frames")),
                gap_per_minute=mid("gap_per_minute"),
                frames=round(mid("frames")),
                wall=mid("wall"),
                errors=sum(c.errors for c in group),
            )
        )
    return merged


TITLES = {
    "inproc": "all calls in one process (one event loop)",
    "process": "a process per call, forked from a forkserver as our worker does today",
}


def report(costs: list[Cost]) -> str:
    """The figures as tables, ours beside bare."""
    index = {(c.model, c.impl, c.calls, c.aligned): c for c in costs}
    lines = []
    for model, title in TITLES.items():
        keys = sorted({(c.calls, c.aligned) for c in costs if c.model == model})
        if not keys:
            continue
        rows = []
        for calls, aligned in keys:
            ours = index.get((model, "ours", calls, aligned))
            bare = index.get((model, "bare", calls, aligned))
            rows.append(
                [
                    f"{calls}{' aligned' if aligned else ''}",
                    _cpu(ours),
                    _cpu(bare),
                    ratio(
                        ours.cpu_per_minute if ours else None, bare.cpu_per_minute if bare else None
                    ),
                    num(ours.warm_cpu if ours else None),
                    num(bare.warm_cpu if bare else None),
                    num(ours.memory_per_call if ours else None, 1),
                    num(bare.memory_per_call if bare else None, 1),
                    ratio(
                        ours.memory_per_call if ours else None,
                        bare.memory_per_call if bare else None,
                    ),
                    num(ours.unique_per_call if ours else None, 1)
                    if model != "inproc"
                    else num(ours.memory_fixed if ours else None, 0),
                    _late(ours),
                    _late(bare),
                ]
            )
        memory_note = "USS/job" if model != "inproc" else "process MiB"
        lines.append(f"\n{title}")
        lines.append(
            table(
                [
                    "calls",
                    "CPU s/call-min ours",
                    "bare",
                    "ours/bare",
                    "warm-up CPU s ours",
                    "bare",
                    "MiB/call ours",
                    "bare",
                    "ours/bare",
                    f"{memory_note} ours",
                    "late frames, gap/call-min ours",
                    "bare",
                ],
                rows,
            )
        )
    return "\n".join(lines)


def _cpu(cost: Cost | None) -> str:
    if cost is None:
        return "-"
    if cost.cpu_range is None:
        return f"{cost.cpu_per_minute:.2f}"
    low, high = cost.cpu_range
    return f"{cost.cpu_per_minute:.2f} ({low:.2f}-{high:.2f})"


def _late(cost: Cost | None) -> str:
    if cost is None:
        return "-"
    errors = f" ({cost.errors} failed)" if cost.errors else ""
    return f"{cost.late_frames}, {cost.gap_per_minute * 1000:.0f} ms{errors}"


def notes(costs: list[Cost]) -> str:
    """How to read the tables, with the capacity the CPU figure implies."""
    lines = [
        "",
        "CPU s/call-min: CPU seconds the calls used per minute of call, all threads; 60 means",
        "  a core per call. warm-up CPU: spent before the call (a process per call: per job",
        "  process; LiveKit starts a fresh process for every job).",
        "MiB/call: one process: its peak RSS over the warmed-up process's / N; a process per",
        "  call: the PSS of all processes (forkserver included, each job read near the end of",
        "  its call) / N. USS/job: a job process's private memory, what each extra call adds.",
        "  process MiB: the warmed-up process's RSS before the calls.",
        "late frames: 20 ms output frames sent more than a frame after their deadline; gap: how",
        "  long the caller heard nothing because of them, per minute of call.",
    ]
    for model in TITLES:
        quiet = [
            c
            for c in costs
            if c.model == model and c.impl == "ours" and not c.aligned and c.calls > 1
        ]
        if quiet:
            low = min(quiet, key=lambda c: c.calls)
            lines.append(
                f"{model}: ours at {low.calls} calls: {low.cpu_per_minute:.2f} CPU s/call-min,"
                f" about {60 / low.cpu_per_minute:.0f} calls per core at 100 % CPU"
            )
    return "\n".join(lines)


QUICK = {"inproc": "10", "process": "10", "aligned": "10"}
FULL = {
    "inproc": "1,10,25,50",
    "process": "1,10,25,50",
    "aligned": "10,25",
}


def main(argv: list[str] | None = None) -> list[Cost]:
    parser = argparse.ArgumentParser(
        prog="python -m bench.cost",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--full", action="store_true", help="1, 10, 25 and 50 calls everywhere")
    parser.add_argument("--inproc", help=f"Ns in one process (default {QUICK['inproc']})")
    parser.add_argument("--process", help=f"Ns, a process per call ({QUICK['process']})")
    parser.add_argument("--aligned", help=f"Ns for the worst case ({QUICK['aligned']})")
    parser.add_argument(
        "--aligned-models", default="process", help="models of the worst case (inproc,process)"
    )
    parser.add_argument("--impls", default="ours,bare", help="ours, bare or both")
    parser.add_argument("--stagger", type=float, default=8.0, help="random start offsets (s)")
    parser.add_argument("--call", default=str(DEFAULT_CALL), help="the recorded call")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each, medians shown")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    grid = dict(FULL if args.full else QUICK)
    for key, value in (
        ("inproc", args.inproc),
        ("process", args.process),
        ("aligned", args.aligned),
    ):
        if value is not None:
            grid[key] = value

    def numbers(text: str) -> list[int]:
        return [int(n) for n in text.split(",") if n.strip()]

    impls = [i for i in args.impls.split(",") if i]
    plan: list[tuple[str, str, int, bool]] = []
    for model in ("inproc", "process"):
        for n in numbers(grid[model]):
            plan += [(model, impl, n, False) for impl in impls]
        if model in args.aligned_models.split(","):
            for n in numbers(grid["aligned"]):
                plan += [(model, impl, n, True) for impl in impls]
    print(
        f"cost per call: {Path(args.call).name} ({len(plan)} measurements), real speed,"
        f" instant fakes; {machine()}"
    )
    runs = []
    for repeat in range(args.repeat):  # interleaved, so that drift hits every variant alike
        for model, impl, calls, aligned in plan:
            cost = run_one(
                model,
                impl,
                calls,
                aligned=aligned,
                stagger=args.stagger,
                folder=Path(args.call),
                seed=args.seed + repeat,
            )
            runs.append(cost)
            print(
                f"  {model:15s} {impl:4s} {calls:3d} calls{' aligned' if aligned else '        '}:"
                f" {cost.cpu_per_minute:5.2f} CPU s/call-min,"
                f" {cost.memory_per_call:6.1f} MiB/call, {cost.late_frames} late frames,"
                f" {cost.gap_per_minute * 1000:.0f} ms gap/call-min ({cost.wall:.0f} s)",
                flush=True,
            )
    costs = median_costs(runs)
    if args.repeat > 1:
        print(f"\nmedians of {args.repeat} runs; CPU s/call-min as median (min-max)")
    print(report(costs))
    print(notes(costs))
    if args.json:
        Path(args.json).write_text(json.dumps([c.__dict__ for c in costs], indent=2))
    return costs


if __name__ == "__main__":
    main(sys.argv[1:])
