"""Figure 3: time to first word. From the start of the call to the first audio frame out.

A call with a static first sentence and no delay (``bench/calls/first_word``), a process per
call forked from the forkserver as in the worker. Each job process runs the call twice in a
row:

- ``ours``: the first call of the job process (the production case: a LiveKit job process
  serves one call, so the process's clip cache is empty and the greeting renders from the
  call's start, playing as it renders), then a second call in the same process (the greeting
  is already in the process's clip cache); and with the worker's clip store on disk holding
  the greeting already (``process+store``: any call after the first on the machine);
- ``bare``: the baseline, the same sentence synthesised live (``session.say(text)``).

Both run as our worker runs jobs (``process``: the job process's ``prewarm`` loads the models
and does a call's first-use work, ``agent_runtime/warmup.py``) and without that warm-up
(``process-cold``: the models only), to show what it saves.

The time runs from the creation of the ``CallRunner`` (ours) or just before the
``AgentSession`` is built (bare), both after the providers exist, to the first frame of voice
the paced output sends (its 20 ms clock included). Two fake voices: instant (the synthetic
voice) and the same with a 200 ms time to first byte, like a cloud TTS.

    python -m bench.first_word
    python -m bench.first_word --trials 20
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

from .common import CALLS, machine, ms, percentile, table
from .harness import CallOutcome
from .measure import measure

CALL = CALLS / "first_word"
SPACING = 2.0
"""Seconds between the starts of two job processes' calls (they never overlap)."""
VOICES = (0.0, 0.2)
MODELS = ("process", "process-cold")
ROWS = (
    ("ours", "process", 0, "ours: first call of a job process (production)"),
    ("ours", "process-cold", 0, "ours: same without the process warm-up"),
    ("ours", "process+store", 0, "ours: same, greeting in the machine's clip store"),
    ("ours", "process", 1, "ours: second call of a process (clip cached)"),
    ("bare", "process", 0, "bare, live TTS: first call of a job process"),
    ("bare", "process-cold", 0, "bare, live TTS: same without the process warm-up"),
    ("bare", "process", 1, "bare, live TTS: second call of a process"),
)


def key(impl: str, model: str, index: int, first_byte: float) -> str:
    """The key of one variant in the figures."""
    return f"{impl}|{model}|{index}|{first_byte}"


def main(argv: list[str] | None = None) -> dict[str, list[float]]:
    parser = argparse.ArgumentParser(prog="python -m bench.first_word", description=__doc__)
    parser.add_argument("--trials", type=int, default=5, help="job processes per variant")
    parser.add_argument("--json", help="also write the figures to this file")
    args = parser.parse_args(argv)
    print(
        f"time to first word: static first sentence, no delay, {args.trials} job processes per"
        f" variant, each running the call twice; {machine()}"
    )
    times: dict[str, list[float]] = {}
    for model in MODELS:
        _measure(model, model, ("ours", "bare"), args.trials, times)
    with tempfile.TemporaryDirectory(prefix="bench-clips-") as store:
        # the greeting rendered once on this machine by an earlier call, then every job
        # process of the variant finds it in the worker's clip store
        _measure("process", "", ("ours",), 1, {}, clip_store=store)
        _measure("process", "process+store", ("ours",), args.trials, times, clip_store=store)
    rows = []
    for impl, model, index, label in ROWS:
        row = [label]
        for first_byte in VOICES:
            values = times.get(key(impl, model, index, first_byte), [])
            row += [ms(percentile(values, 50)), ms(percentile(values, 95))]
        rows.append(row)
    headers = ["", "p50 instant TTS", "p95", "p50 TTS with 200 ms TTFB", "p95"]
    print(table(headers, rows))
    print(
        "A LiveKit job process serves one call: in production every call is the first call of"
        " its process.\nFrom the runner's creation (ours) or the session's (bare) to the first"
        " voice frame sent, the paced output's 20 ms tick included."
    )
    if args.json:
        Path(args.json).write_text(json.dumps(times, indent=2))
    return times


def _measure(
    model: str,
    variant: str,
    impls: tuple[str, ...],
    trials: int,
    times: dict[str, list[float]],
    *,
    clip_store: str | None = None,
) -> None:
    """Run ``trials`` job processes per voice and implementation; record them under ``variant``."""
    specs: list[dict[str, Any]] = []
    for trial in range(trials):
        for first_byte in VOICES:
            for impl in impls:
                specs.append(
                    {
                        "impl": impl,
                        "folder": str(CALL),
                        "offset": len(specs) * SPACING,
                        "voice": {"first_byte": first_byte},
                        "repeat": 2,
                        "label": f"{impl}/{trial}",
                        "clip_store": clip_store,
                    }
                )
    raw = measure(model, specs)
    if raw["errors"]:
        print(f"  {len(raw['errors'])} job processes failed: {raw['errors'][:2]}")
    for data in raw["outcomes"]:
        outcome = CallOutcome.from_json(data)
        if outcome.first_voice is not None:
            name = key(outcome.impl, variant, outcome.extra["index"], outcome.extra["first_byte"])
            times.setdefault(name, []).append(outcome.first_voice)


if __name__ == "__main__":
    main(sys.argv[1:])
