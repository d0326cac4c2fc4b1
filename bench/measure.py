"""Run one measurement in a fresh process and print its result as JSON (used by the benchmarks).

Each measurement gets a process of its own, so that one run's memory, caches and warm-up never
leak into the next:

    python -m bench.measure '{"model": "inproc", "calls": [{"impl": "ours", "folder": "..."}]}'
"""

from __future__ import annotations

import json
import logging
import subprocess
import sys
from collections.abc import Sequence
from typing import Any

MARKER = "BENCH-RESULT "


def measure(
    model: str, calls: Sequence[dict[str, Any]], *, timeout: float = 1800
) -> dict[str, Any]:
    """Run ``calls`` (``jobs.CallSpec`` fields) with ``model`` in a child process."""
    request = json.dumps({"model": model, "calls": list(calls)})
    done = subprocess.run(
        [sys.executable, "-m", "bench.measure", request],
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    for line in done.stdout.splitlines():
        if line.startswith(MARKER):
            result: dict[str, Any] = json.loads(line[len(MARKER) :])
            return result
    tail = "\n".join(done.stderr.splitlines()[-20:])
    raise RuntimeError(f"measurement failed (exit {done.returncode}):\n{tail}")


def main(argv: list[str]) -> None:
    logging.basicConfig(level=logging.ERROR)
    # the framework warns on every slow VAD window under overload; the figures say it already
    logging.getLogger("livekit.agents").setLevel(logging.CRITICAL)
    from .jobs import CallSpec, VoiceSpec, in_process, per_process

    request = json.loads(argv[0])
    specs = []
    for call in request["calls"]:
        voice = VoiceSpec(**call.pop("voice", {}))
        specs.append(CallSpec(voice=voice, **call))
    if request["model"] == "inproc":
        result = in_process(specs)
    elif request["model"] == "process":
        result = per_process(specs)
    elif request["model"] == "process-cold":
        result = per_process(specs, warm=False)
    else:
        raise SystemExit(f"unknown model {request['model']!r}")
    print(MARKER + json.dumps(result), flush=True)


if __name__ == "__main__":
    main(sys.argv[1:])
