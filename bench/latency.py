"""Figure 2: how fast the agent answers, turn by turn, and how often it cuts the caller off.

Every caller turn of the recorded calls (the standalone fixtures and ``bench/calls/pauses_*``,
whose turns are mostly split by a 0.5-1.2 s pause in the middle of a sentence) is replayed at
real speed with instant fakes, a process per call as in the worker. For each turn:

- end of speech: when the caller really stopped (the end of the turn's last transcript in
  ``stt.json``, which is the end of the audio that was spoken);
- turn committed: when the session decided the turn was over (the user message's
  ``stopped_speaking_at + end_of_turn_delay``, as the report's ``latency`` rows hold them);
- first agent audio: the first 20 ms frame of the answer the output stream sent.

end of speech -> committed is the end-of-turn decision (VAD silence, the end-of-turn model,
the endpointing delays); committed -> first audio is everything after it: the LLM fake, the
TTS fake and our output path. A premature cut-off is a mid-sentence pause during which (or
after which, before the caller finished) the agent started to speak.

With ``--impls ours,bare`` the bare ``AgentSession`` (``bench/harness.py``) answers the same
turns as a baseline, to tell the framework's part of the time after the commit from ours.
All calls of an implementation replay at once by default (12 processes, about 1.5 of this
machine's 2 cores): ``--parallel 6`` halves the load and doubles the time.

    python -m bench.latency                    # ours, about 2 minutes
    python -m bench.latency --impls ours,bare  # with the baseline, about 4 minutes
"""

from __future__ import annotations

import argparse
import json
import random
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agent_runtime.call.session import TurnOptions
from agent_runtime.replay.recorded_call import RecordedCall

from .common import latency_calls, machine, ms, percentile, table, turns_of
from .harness import CallOutcome
from .measure import measure

ESPEAK_NOTE = (
    "note: the callers are espeak-ng voices, and the recorded transcripts arrive as the speech\n"
    "ends (a streaming STT's final transcript comes later: python -m bench.turns)."
)


@dataclass
class Turn:
    """A caller turn, in seconds into ``caller.wav``."""

    call: str
    start: float
    end: float
    pauses: list[tuple[float, float]]
    """Mid-turn pauses: (caller stopped, caller went on)."""


@dataclass
class TurnLatency:
    """One answered turn, in seconds."""

    call: str
    turn: int
    """Index of the turn in its call (0: the call's first caller turn)."""
    end_of_turn: float | None
    after_commit: float | None
    total: float


@dataclass
class Latencies:
    """What one implementation did on every turn."""

    impl: str
    turns: list[TurnLatency] = field(default_factory=list)
    unanswered: int = 0
    pauses: int = 0
    cut_offs: int = 0
    turns_with_pauses: int = 0
    turns_cut: int = 0


def caller_turns(recorded: RecordedCall) -> list[Turn]:
    """The turns of ``recorded`` from ``stt.json`` and ``turns.json``."""
    utterances = recorded.stt.utterances
    turns = []
    for group in turns_of(recorded):
        parts = [utterances[i] for i in group]
        pauses = [(a.end, b.start) for a, b in zip(parts, parts[1:], strict=False)]
        turns.append(Turn(recorded.folder.name, parts[0].start, parts[-1].end, pauses))
    return turns


def analyse(outcome: CallOutcome, turns: list[Turn], into: Latencies) -> None:
    """Add the turns of one call to ``into``."""
    shift = outcome.caller_offset  # caller.wav time -> call time
    voice = sorted(outcome.voice_starts)
    end_of_call = outcome.duration
    for index, turn in enumerate(turns):
        end = turn.end + shift
        following = turns[index + 1].start + shift if index + 1 < len(turns) else end_of_call
        if turn.pauses:
            into.turns_with_pauses += 1
            cut = False
            for number, (stopped, _) in enumerate(turn.pauses):
                until = turn.pauses[number + 1][0] if number + 1 < len(turn.pauses) else turn.end
                into.pauses += 1
                if any(stopped + shift <= v < until + shift for v in voice):
                    into.cut_offs += 1
                    cut = True
            into.turns_cut += cut
        answer = next((v for v in voice if end < v < following), None)
        if answer is None:
            into.unanswered += 1
            continue
        commits = [c for c in outcome.commits if turn.start + shift < c <= answer + 1e-3]
        commit = commits[-1] if commits else None
        into.turns.append(
            TurnLatency(
                call=turn.call,
                turn=index,
                end_of_turn=None if commit is None else commit - end,
                after_commit=None if commit is None else answer - commit,
                total=answer - end,
            )
        )


def run(
    impl: str, folders: list[Path], *, parallel: int, seed: int, turn: dict[str, Any]
) -> Latencies:
    """Replay ``folders`` with ``impl``, ``parallel`` processes at a time, ``turn`` settings."""
    rng = random.Random(seed)
    result = Latencies(impl)
    for begin in range(0, len(folders), parallel):
        batch = folders[begin : begin + parallel]
        # small random offsets: the fixtures' first turns would otherwise all end together
        specs = [
            {"impl": impl, "folder": str(f), "offset": rng.uniform(0, 3), "turn": turn}
            for f in batch
        ]
        raw = measure("process", specs)
        if raw["errors"]:
            print(f"  {impl}: {len(raw['errors'])} calls failed: {raw['errors'][:2]}")
        by_name = {o["name"]: CallOutcome.from_json(o) for o in raw["outcomes"]}
        for folder in batch:
            outcome = by_name.get(folder.name)
            if outcome is not None:
                analyse(outcome, caller_turns(RecordedCall.load(folder)), result)
    return result


def summary(results: list[Latencies]) -> str:
    """The p50 / p95 table and the cut-off counts."""
    rows = []
    parts: list[tuple[str, Any]] = [
        ("end of speech -> turn committed (end of turn)", lambda t: t.end_of_turn),
        ("turn committed -> first audio (LLM+TTS+output)", lambda t: t.after_commit),
        ("end of speech -> first audio (total)", lambda t: t.total),
    ]
    for label, pick in parts:
        row = [label]
        for result in results:
            values = [v for v in (pick(t) for t in result.turns) if v is not None]
            row += [ms(percentile(values, 50)), ms(percentile(values, 95))]
        rows.append(row)
    headers = ["component"]
    for result in results:
        headers += [f"p50 {result.impl}", f"p95 {result.impl}"]
    lines = [table(headers, rows), ""]
    max_delay = TurnOptions().max_endpointing_delay
    for result in results:
        first = [t.after_commit for t in result.turns if t.turn == 0 and t.after_commit]
        later = [t.after_commit for t in result.turns if t.turn > 0 and t.after_commit]
        lines.append(
            f"{result.impl}: turn committed -> first audio, p50 of the first answer of each call"
            f" (the job process's first LLM request and TTS): {ms(percentile(first, 50))};"
            f" of the later answers: {ms(percentile(later, 50))}"
        )
        decided = [t.end_of_turn for t in result.turns if t.end_of_turn is not None]
        sure = [d for d in decided if d < max_delay]
        waited = [d for d in decided if d >= max_delay]
        share = result.cut_offs / result.pauses if result.pauses else 0.0
        lines.append(
            f"{result.impl}: end of turn is bimodal: {len(sure)} turns committed before the"
            f" {max_delay:g} s maximum delay (the model was confident; p50"
            f" {ms(percentile(sure, 50))}), {len(waited)} at the maximum (p50"
            f" {ms(percentile(waited, 50))})"
        )
        lines.append(
            f"{result.impl}: {len(result.turns)} turns answered ({result.unanswered} not: call"
            f" ended or the agent was already speaking); premature cut-offs: {result.cut_offs}"
            f" of {result.pauses} mid-sentence pauses ({share:.0%}), in {result.turns_cut} of"
            f" {result.turns_with_pauses} turns with a pause"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> list[Latencies]:
    parser = argparse.ArgumentParser(prog="python -m bench.latency", description=__doc__)
    parser.add_argument("--impls", default="ours", help="ours, bare or both")
    parser.add_argument("--parallel", type=int, default=12, help="calls replayed at once")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--min-delay",
        type=float,
        help=f"min endpointing delay, s (default {TurnOptions().min_endpointing_delay})",
    )
    parser.add_argument("--json", help="also write the per-turn figures to this file")
    args = parser.parse_args(argv)
    folders = latency_calls()
    turn_count = sum(len(caller_turns(RecordedCall.load(f))) for f in folders)
    print(
        f"response latency: {turn_count} caller turns in {len(folders)} recorded calls, real"
        f" speed, instant fakes, a process per call ({args.parallel} at a time); {machine()}"
    )
    turn = {} if args.min_delay is None else {"min_endpointing_delay": args.min_delay}
    results = [
        run(impl, folders, parallel=args.parallel, seed=args.seed, turn=turn)
        for impl in args.impls.split(",")
        if impl
    ]
    print(summary(results))
    print(ESPEAK_NOTE)
    if args.json:
        Path(args.json).write_text(
            json.dumps([{**r.__dict__, "turns": [t.__dict__ for t in r.turns]} for r in results])
        )
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
