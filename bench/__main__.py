"""Run every benchmark with its defaults and print a summary: ``python -m bench`` (``./dev bench``).

Each benchmark runs in a process of its own (the replay-speed, answering and reliability ones
need the virtual clock hooked in before livekit is imported) and prints its own tables as it
goes; the summary at the end repeats the headline figures. About 14 minutes on a 2-core
machine. Options:

    python -m bench --only cost,latency      # a subset
    python -m bench --full                   # every cost model at 1-50 calls, latency baseline
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from .common import machine, ms, percentile, ratio, table

BENCHMARKS = (
    "cost",
    "latency",
    "turns",
    "first_word",
    "replay_speed",
    "answering",
    "reliability",
    "bridge",
)
QUICK_COST: list[str] = []
"""The cost benchmark's defaults (about 5 minutes)."""
FULL_COST = ["--full"]
FULL_LATENCY = ["--impls", "ours,bare"]


def run(name: str, args: list[str], out: Path) -> Any:
    """Run ``python -m bench.<name>`` and return what it wrote to its ``--json`` file."""
    path = out / f"{name}.json"
    print(f"\n=== {name} ===", flush=True)
    started = time.perf_counter()
    done = subprocess.run([sys.executable, "-m", f"bench.{name}", *args, "--json", str(path)])
    print(f"({name}: {time.perf_counter() - started:.0f} s)", flush=True)
    if done.returncode != 0 or not path.is_file():
        print(f"{name} failed (exit {done.returncode})")
        return None
    return json.loads(path.read_text())


def cost_rows(costs: list[dict[str, Any]]) -> list[list[str]]:
    """Headline rows: ours and bare per measurement."""
    index = {(c["model"], c["impl"], c["calls"], c["aligned"]): c for c in costs}
    rows = []
    for model, impl, calls, aligned in sorted(index):
        if impl != "ours":
            continue
        ours = index[(model, "ours", calls, aligned)]
        bare = index.get((model, "bare", calls, aligned))
        where = {
            "inproc": "one process",
            "process": "a process per call",
        }.get(model, model)
        rows.append(
            [
                f"cost, {where}, {calls} calls{' aligned' if aligned else ''}",
                f"{ours['cpu_per_minute']:.2f} CPU s/call-min, {ours['memory_per_call']:.0f} MiB"
                f", gaps {ours['gap_per_minute'] * 1000:.0f} ms/min",
                f"{bare['cpu_per_minute']:.2f}, {bare['memory_per_call']:.0f} MiB"
                f", gaps {bare['gap_per_minute'] * 1000:.0f} ms/min"
                if bare
                else "-",
                f"{ours['cpu_per_minute'] / bare['cpu_per_minute']:.2f}x CPU" if bare else "-",
            ]
        )
    return rows


def latency_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Headline rows: p50 / p95 of each component, ours and bare."""
    by_impl = {r["impl"]: r for r in results}

    def cell(impl: str, key: str) -> str:
        result = by_impl.get(impl)
        if result is None:
            return "-"
        values = [t[key] for t in result["turns"] if t[key] is not None]
        return f"p50 {ms(percentile(values, 50))}, p95 {ms(percentile(values, 95))}"

    rows = []
    for key, label in (
        ("end_of_turn", "latency: end of speech -> turn committed"),
        ("after_commit", "latency: turn committed -> first audio"),
        ("total", "latency: end of speech -> first audio"),
    ):
        rows.append([label, cell("ours", key), cell("bare", key), ""])
    ours = by_impl.get("ours")
    if ours:
        share = ours["cut_offs"] / ours["pauses"] if ours["pauses"] else 0.0
        rows.append(
            [
                "premature cut-offs (mid-sentence pauses)",
                f"{ours['cut_offs']} of {ours['pauses']} ({share:.0%})",
                "-",
                "",
            ]
        )
    return rows


def turns_rows(results: list[dict[str, Any]]) -> list[list[str]]:
    """Headline rows: answer times and cut-offs on the held-out turns, ours beside bare."""
    by_impl = {r["impl"]: [t for t in r["turns"] if t["kind"] == "turn"] for r in results}

    def answers(impl: str) -> str:
        turns = by_impl.get(impl)
        if turns is None:
            return "-"
        latencies = [t["latency"] for t in turns if t["latency"] is not None]
        return (
            f"{len(latencies)}/{len(turns)} answered, p50 {ms(percentile(latencies, 50))},"
            f" p95 {ms(percentile(latencies, 95))}"
        )

    def cuts(impl: str) -> str:
        turns = by_impl.get(impl)
        if turns is None:
            return "-"
        paused = [t for t in turns if t["pauses"]]
        return f"{sum(t['cut'] for t in turns)} turns ({sum(t['cut'] for t in paused)} paused)"

    return [
        ["turns (held-out): end of speech -> first audio", answers("ours"), answers("bare"), ""],
        ["turns (held-out set): caller cut off", cuts("ours"), cuts("bare"), ""],
    ]


def bridge_rows(figures: dict[str, Any]) -> list[list[str]]:
    """Headline row: the delay the warm-transfer bridge adds each way, and its CPU."""
    ways = figures["ways"]
    added = ", ".join(f"{name} p50 {w['added_p50'] * 1000:.1f} ms" for name, w in ways.items())
    return [
        [
            "warm-transfer bridge: added delay (in process), CPU",
            added,
            f"{figures['added_cpu_seconds_per_minute']:.2f} CPU s per bridged minute",
            "",
        ]
    ]


def first_word_rows(times: dict[str, list[float]]) -> list[list[str]]:
    """Headline rows: p50 time to first word, instant and 200 ms voices."""

    def p50(impl: str, model: str, index: int, first_byte: float) -> str:
        return ms(percentile(times.get(f"{impl}|{model}|{index}|{first_byte}", []), 50))

    rows = []
    for first_byte, voice in ((0.0, "instant TTS"), (0.2, "TTS with 200 ms TTFB")):
        rows.append(
            [
                f"time to first word, {voice} (p50)",
                f"{p50('ours', 'process', 0, first_byte)} (clip cached:"
                f" {p50('ours', 'process', 1, first_byte)})",
                f"live TTS {p50('bare', 'process', 0, first_byte)}"
                f" (warm process: {p50('bare', 'process', 1, first_byte)})",
                "",
            ]
        )
    return rows


def answering_rows(data: dict[str, Any]) -> list[list[str]]:
    """Headline rows: verdicts right, the targets, a person's wait for the greeting."""
    targets = data["targets"]
    delays = [d for d in targets["message_delays"].values() if d is not None]

    def mark(key: str) -> str:
        return "PASS" if targets[key] else "FAIL"

    return [
        [
            "answering: first verdict right (held-out callees, no LLM step)",
            f"{data['right']} of {len(data['outbound'])}",
            f"{data['undecided']} left to the LLM step",
            "",
        ],
        [
            "answering targets: (a) machines first, (b) no person as machine, (c) message at beep",
            f"a {mark('machines_first')}, b {mark('people_not_machines')},"
            f" c {mark('message_at_beep')}",
            f"message - beep end: p50 {ms(percentile(delays, 50))}"
            f" (min {ms(min(delays, default=None))}, max {ms(max(delays, default=None))})",
            "",
        ],
        [
            "answering: person's first turn -> greeting (p50), outbound vs inbound reply",
            ms(targets["outbound_answer"]),
            ms(targets["inbound_answer"]),
            ratio(targets["outbound_answer"], targets["inbound_answer"]),
        ],
    ]


def reliability_rows(data: list[dict[str, Any]]) -> list[list[str]]:
    """Headline row: the faults whose turn was answered or apologised for, with a report."""
    faults = [d for d in data if d["fault"] != "none"]
    held = [d for d in faults if (d["answered"] or d["apologised"]) and d["report_written"]]
    missed = ", ".join(d["fault"] for d in faults if d not in held) or "-"
    return [
        [
            "reliability: faults answered or apologised for, report written",
            f"{len(held)} of {len(faults)}",
            f"not: {missed}",
            "",
        ]
    ]


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--only", default=",".join(BENCHMARKS), help="benchmarks to run")
    parser.add_argument("--full", action="store_true", help="the full grid (about 40 minutes)")
    args = parser.parse_args(argv)
    chosen = [b for b in args.only.split(",") if b]
    print(f"benchmarks: {', '.join(chosen)}; {machine()}")
    rows: list[list[str]] = []
    with tempfile.TemporaryDirectory(prefix="bench-") as tmp:
        out = Path(tmp)
        if "cost" in chosen:
            costs = run("cost", FULL_COST if args.full else QUICK_COST, out)
            rows += cost_rows(costs or [])
        if "latency" in chosen:
            rows += latency_rows(run("latency", FULL_LATENCY if args.full else [], out) or [])
        if "turns" in chosen:
            turn_set = out / "turns"
            subprocess.run(
                [sys.executable, "-m", "bench.turn_set", str(turn_set), "--part", "heldout"],
                check=True,
            )
            rows += turns_rows(run("turns", [str(turn_set)], out) or [])
        if "first_word" in chosen:
            rows += first_word_rows(run("first_word", [], out) or {})
        if "replay_speed" in chosen:
            figures = run("replay_speed", [], out) or []
            if figures:
                length = sum(f[1] for f in figures)
                wall = sum(f[2] for f in figures)
                fastest = max(figures, key=lambda f: f[1] / f[2])
                slowest = min(figures, key=lambda f: f[1] / f[2])
                rows.append(
                    [
                        "replay speed on the virtual clock",
                        f"{length / wall:.1f}x real time overall",
                        f"{slowest[1] / slowest[2]:.1f}x ({slowest[0]}) to"
                        f" {fastest[1] / fastest[2]:.1f}x ({fastest[0]})",
                        "",
                    ]
                )
        if "answering" in chosen:
            data = run("answering", [], out)
            rows += answering_rows(data) if data else []
        if "reliability" in chosen:
            rows += reliability_rows(run("reliability", [], out) or [])
        if "bridge" in chosen:
            figures = run("bridge", ["--seconds", "10"], out)
            rows += bridge_rows(figures) if figures else []
    print("\n=== summary ===")
    print(table(["figure", "ours", "bare / detail", "ratio"], rows))


if __name__ == "__main__":
    main(sys.argv[1:])
