"""Turn-taking benchmark: how fast the agent answers, and whether it talks over the caller.

Plays a turn set (``bench/turn_form.py``; ``python -m bench.turn_set`` builds one) through
the production runtime with the worker's turn-taking settings (``ours``) and through a plain
livekit-agents ``AgentSession`` with the framework's defaults (``bare``: local VAD,
``v1-mini`` end of turn), in the same run, and prints for each:

- answered: turns the agent answered after the caller finished, before the next turn;
- answer time p50 / p95: from the end of the turn's speech to the first agent audio;
- cut-offs: agent audio that starts more than 0.2 s after a turn's speech starts and before
  its speech ends, counted per turn and per mid-sentence pause (a pause is cut when agent
  audio starts between its beginning and the next pause, or the end of the turn);
- backchannels ("mm-hm" while the agent speaks): whether the agent's answer was cut (it should
  not be), or held and then went on (and for how long it was held);
- interruptions: time from the interruption's speech start to the agent's audio stopping
  (target: 0.3 s or less).

The figures are per voice family too (espeak-ng, piper). The turns are dealt to 4 calls played
at once at real speed, a process per call as the worker runs them; each turn's speech starts
7 s after the previous turn's ended; everything is on the caller-audio clock. The LLM and the
voice are instant (a fixed short answer; a long one where a backchannel or interruption is said
over it); the STT is a streaming stand-in: interim words as they are spoken, the final
transcript ``--final-delay`` after the speech ends (``bench/turn_stt.py``).

    python -m bench.turn_set /tmp/turns
    python -m bench.turns /tmp/turns/heldout            # both, about 7 minutes
    python -m bench.turns /tmp/turns/tune --impls ours  # what a tuning run needs

The worker's settings are read from the environment as the worker reads them
(``AGENT_MIN_ENDPOINTING_DELAY``...), so a setting can be tried without editing code.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .common import machine, ms, percentile, table
from .turn_calls import LONG_ANSWER, PlacedTurn, PlannedCall, answer_seconds, write_calls
from .turn_form import TurnSetError, load
from .turn_play import CallJob, CallPlayed, run_calls
from .turn_stt import FINAL_DELAY, INTERIM_DELAY

CUT_GRACE = 0.2
"""Agent audio starting this soon after the caller starts is not a cut-off (it was already
on its way)."""
STOP_TOLERANCE = 0.15
"""An answer whose voice ends this much before its full length was stopped."""
HOLD_GAP = 3.0
"""A held voice goes on within this long (the framework resumes it at the latest
``false_interruption_timeout`` after the caller's sound); a longer silence ends the answer."""
INTERRUPTION_TARGET = 0.3
IMPLS = ("ours", "bare")


@dataclass
class TurnResult:
    """What happened on one caller turn, in seconds on the caller-audio clock."""

    index: int
    family: str
    kind: str
    category: str
    latency: float | None = None
    """End of speech -> first agent audio; None: not answered before the next turn."""
    decided: float | None = None
    """End of speech -> the session committed the turn (the end-of-turn decision)."""
    pauses: int = 0
    pauses_cut: int = 0
    cut: bool = False
    """Agent audio started while the caller was still speaking."""
    over_speech: bool = False
    """(Backchannels, interruptions) the agent was speaking when it began."""
    stopped_after: float | None = None
    """(Backchannels, interruptions) speech start -> the agent's voice stopping; None: it
    went on."""
    held_for: float | None = None
    """(Stopped) how long the voice was held before the rest of the answer came; None: the
    rest never came (the answer was cut)."""


@dataclass
class ImplResult:
    """Every turn of one implementation."""

    impl: str
    turns: list[TurnResult] = field(default_factory=list)
    settings: dict[str, object] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    late_frames: int = 0
    calls: list[dict[str, object]] = field(default_factory=list)
    """Per call: its turns' placement, the agent's voice and the commits (for a look)."""
    expected: int = 0
    """Turns in the set (the figures miss the turns of a call that failed)."""


def measure_turn(
    turn: PlacedTurn,
    next_start: float,
    voice: Sequence[Sequence[float]],
    commits: Sequence[float] = (),
) -> TurnResult:
    """A turn's figures from the agent's voice stretches ``[start, end]`` and the session's
    turn commits."""
    result = TurnResult(turn.index, turn.family, turn.kind, turn.category)
    starts = [s[0] for s in voice]
    result.cut = any(turn.speech_start + CUT_GRACE < s < turn.speech_end for s in starts)
    pauses = [(a[1], b[0]) for a, b in zip(turn.segments, turn.segments[1:], strict=False)]
    result.pauses = len(pauses)
    for number, (begin, _) in enumerate(pauses):
        until = pauses[number + 1][0] if number + 1 < len(pauses) else turn.speech_end
        if any(begin <= s < until for s in starts):
            result.pauses_cut += 1
    answer = next((s for s in starts if turn.speech_end < s < next_start), None)
    if answer is not None:
        result.latency = round(answer - turn.speech_end, 3)
        decided = [c for c in commits if turn.speech_start < c <= answer + 1e-3]
        if decided:
            result.decided = round(decided[-1] - turn.speech_end, 3)
    return result


def measure_overlap(
    turn: PlacedTurn, answer_from: float, answer_length: float, voice: Sequence[Sequence[float]]
) -> TurnResult:
    """A backchannel's or interruption's figures: was the agent speaking, did it stop.

    The agent's answer to the turn before (``answer_length`` s of voice, started after
    ``answer_from``) was stopped when the stretch of voice under the caller's speech ends
    before all of the answer was heard (a pause it resumed from counts as a stop too); it was
    held, not cut, when the stretches of voice that follow make up the rest of it.
    """
    result = TurnResult(turn.index, turn.family, turn.kind, turn.category)
    begin = turn.speech_start
    under = next((s for s in voice if s[0] <= begin < s[1]), None)
    if under is None:
        return result
    result.over_speech = True
    heard = sum(
        min(end, under[1]) - max(start, answer_from)
        for start, end in voice
        if end > answer_from and start <= under[0]
    )
    if heard < answer_length - STOP_TOLERANCE:
        result.stopped_after = round(under[1] - begin, 3)
        result.held_for = _held_for(voice, under, answer_length - heard)
    return result


def _held_for(
    voice: Sequence[Sequence[float]], under: Sequence[float], rest: float
) -> float | None:
    """How long the voice was held after ``under`` before the ``rest`` s of the answer came.

    The rest may come in pieces (a caller's "okay, ... perfect" holds it twice); None when
    the voice that follows does not make up the rest of the answer (it was cut).
    """
    held, heard, previous_end = 0.0, 0.0, under[1]
    for start, end in (s for s in voice if s[0] >= under[1]):
        if start - previous_end > HOLD_GAP:
            return None
        held += start - previous_end
        heard += end - start
        previous_end = end
        if abs(heard - rest) <= STOP_TOLERANCE:
            return round(held, 3)
        if heard > rest:
            return None
    return None


def measure_call(call: PlannedCall, played: CallPlayed, answer_length: float) -> list[TurnResult]:
    """Every turn of one played call."""
    results = []
    for number, turn in enumerate(call.turns):
        if turn.kind == "turn":
            following = (
                call.turns[number + 1].speech_start
                if number + 1 < len(call.turns)
                else call.hangup_at
            )
            results.append(measure_turn(turn, following, played.voice, played.commits))
        else:
            answer_from = call.turns[number - 1].speech_end if number else 0.0
            results.append(measure_overlap(turn, answer_from, answer_length, played.voice))
    return results


# -- the printout --------------------------------------------------------------------------------


def _row(label: str, turns: Sequence[TurnResult]) -> list[str]:
    regular = [t for t in turns if t.kind == "turn"]
    latencies = [t.latency for t in regular if t.latency is not None]
    decided = [t.decided for t in regular if t.decided is not None]
    paused = [t for t in regular if t.pauses]
    return [
        label,
        f"{len(latencies)}/{len(regular)}",
        ms(percentile(latencies, 50)),
        ms(percentile(latencies, 95)),
        ms(percentile(decided, 50)),
        f"{sum(t.cut for t in regular)}",
        f"{sum(t.cut for t in paused)}/{len(paused)}",
        f"{sum(t.pauses_cut for t in regular)}/{sum(t.pauses for t in regular)}",
    ]


def _overlap_row(label: str, turns: Sequence[TurnResult]) -> list[str]:
    backchannels = [t for t in turns if t.kind == "backchannel"]
    interruptions = [t for t in turns if t.kind == "interruption"]
    over_b = [t for t in backchannels if t.over_speech]
    over_i = [t for t in interruptions if t.over_speech]
    stops = [t.stopped_after for t in over_i if t.stopped_after is not None]
    within = sum(1 for s in stops if s <= INTERRUPTION_TARGET)
    held = [t.held_for for t in over_b if t.held_for is not None]
    cut = sum(t.stopped_after is not None and t.held_for is None for t in over_b)
    return [
        label,
        f"{cut}/{len(over_b)}"
        + (
            f" ({len(backchannels) - len(over_b)} not over speech)"
            if len(over_b) < len(backchannels)
            else ""
        ),
        f"{len(held)}/{len(over_b)}",
        ms(max(held, default=None)),
        f"{len(stops)}/{len(over_i)}"
        + (
            f" ({len(interruptions) - len(over_i)} not over speech)"
            if len(over_i) < len(interruptions)
            else ""
        ),
        ms(percentile(stops, 50)),
        ms(max(stops, default=None)),
        f"{within}/{len(over_i)}",
    ]


def summary(results: Sequence[ImplResult]) -> str:
    """The tables: turns per implementation and voice family, then the overlaps."""
    rows, overlap_rows = [], []
    for result in results:
        families = sorted({t.family for t in result.turns})
        rows.append(_row(f"{result.impl}, all", result.turns))
        overlap_rows.append(_overlap_row(f"{result.impl}, all", result.turns))
        if len(families) > 1:
            for family in families:
                mine = [t for t in result.turns if t.family == family]
                rows.append(_row(f"{result.impl}, {family}", mine))
                overlap_rows.append(_overlap_row(f"{result.impl}, {family}", mine))
    lines = [
        table(
            [
                "implementation, voices",
                "answered",
                "answer p50",
                "answer p95",
                "decided p50",
                "turns cut",
                "paused turns cut",
                "pauses cut",
            ],
            rows,
        ),
        "answer: end of the turn's speech -> first agent audio; decided: -> the session"
        " committed the turn (its end-of-turn decision); cut: agent audio started while the"
        " caller was still speaking",
        "",
        table(
            [
                "while the agent speaks",
                "backchannels: answer cut",
                "held, went on",
                "held max",
                "interruptions: stopped",
                "stop p50",
                "stop max",
                f"stopped <= {INTERRUPTION_TARGET:g} s",
            ],
            overlap_rows,
        ),
        "held: the agent's voice stopped under the backchannel and the rest of its answer came"
        " after this long; stop: an interruption's speech start -> the agent's voice stopping",
        "",
    ]
    for result in results:
        shown = ", ".join(f"{k}={v}" for k, v in result.settings.items())
        lines.append(f"{result.impl} settings: {shown}")
        if result.late_frames:
            lines.append(f"{result.impl}: {result.late_frames} late output frames (overload)")
        if len(result.turns) < result.expected:
            lines.append(
                f"{result.impl}: only {len(result.turns)} of {result.expected} turns measured"
                " (a call failed: its turns are missing from the figures)"
            )
        for error in result.errors:
            lines.append(f"{result.impl} error: {error}")
    return "\n".join(lines)


# -- running ---------------------------------------------------------------------------------------


def run(
    folder: Path,
    impls: Sequence[str],
    *,
    calls: int,
    gap: float,
    interim_delay: float,
    final_delay: float,
) -> list[ImplResult]:
    """Play the turn set in ``folder`` with each implementation; their results."""
    entries = load(folder)
    answer_length = answer_seconds(LONG_ANSWER)
    results = []
    with tempfile.TemporaryDirectory(prefix="bench-turns-") as scratch:
        out = Path(scratch)
        planned = write_calls(folder, entries, out, calls=calls, gap=gap)
        longest = max(c.hangup_at for c in planned)
        by_name = {c.name: c for c in planned}
        print(
            f"turn set {folder}: {len(entries)} turns on {len(planned)} concurrent calls"
            f" ({longest:.0f} s each at most), interim words +{interim_delay:g} s, final"
            f" transcript +{final_delay:g} s; {machine()}",
            flush=True,
        )
        for impl in impls:
            started = time.perf_counter()
            jobs = [
                CallJob(
                    impl,
                    str(out / c.name),
                    [(s.start, s.end, s.text) for s in c.stretches()],
                    interim_delay,
                    final_delay,
                )
                for c in planned
            ]
            played, errors = run_calls(jobs, timeout=longest + 180)
            result = ImplResult(impl, errors=errors, expected=len(entries))
            for call in played:
                plan = by_name[Path(call.folder).name]
                result.turns += measure_call(plan, call, answer_length)
                result.calls.append(
                    {"plan": asdict(plan), "voice": call.voice, "commits": call.commits}
                )
                result.settings = call.settings
                result.late_frames += call.late_frames
            result.turns.sort(key=lambda t: t.index)
            results.append(result)
            print(f"({impl}: {time.perf_counter() - started:.0f} s)", flush=True)
    return results


def main(argv: list[str] | None = None) -> list[ImplResult]:
    """Run the benchmark on the turn set given and print the figures."""
    parser = argparse.ArgumentParser(prog="python -m bench.turns", description=__doc__)
    parser.add_argument("folder", type=Path, help="a turn set (turns.json and its WAV files)")
    parser.add_argument("--impls", default="ours,bare", help="ours, bare or both (ours,bare)")
    parser.add_argument("--calls", type=int, default=4, help="concurrent calls")
    parser.add_argument("--gap", type=float, default=7.0, help="s between turns")
    parser.add_argument("--interim-delay", type=float, default=INTERIM_DELAY)
    parser.add_argument("--final-delay", type=float, default=FINAL_DELAY)
    parser.add_argument("--json", type=Path, help="also write the per-turn figures here")
    args = parser.parse_args(argv)
    impls = [i for i in args.impls.split(",") if i]
    unknown = [i for i in impls if i not in IMPLS]
    if unknown or not impls:
        raise SystemExit(f"error: --impls takes ours and/or bare, not {args.impls!r}")
    if args.calls < 1:
        raise SystemExit("error: --calls must be at least 1")
    try:
        results = run(
            args.folder,
            impls,
            calls=args.calls,
            gap=args.gap,
            interim_delay=args.interim_delay,
            final_delay=args.final_delay,
        )
    except (TurnSetError, ValueError) as err:
        raise SystemExit(f"error: {err}") from None
    print(summary(results))
    if args.json:
        args.json.write_text(json.dumps([asdict(r) for r in results], indent=1))
    return results


if __name__ == "__main__":
    main(sys.argv[1:])
