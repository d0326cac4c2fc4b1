"""``agent-runtime replay DIR``: play a recorded call through the runtime and show it."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..replay.run import ReplayResult

DEFAULT_CALL = Path("fixtures/calls/order_status")


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "replay",
        help="replay a recorded call offline and show how it went",
        description="Play a recorded call (a folder: call.json, caller.wav, stt.json, llm.json...) "
        "through the runtime with no network and no keys. Prints the transcript as it happens "
        "and a summary; writes report.json and recording.wav (stereo: caller left, what the "
        "caller heard right).",
    )
    parser.add_argument(
        "folder", nargs="?", default=str(DEFAULT_CALL), help=f"default: {DEFAULT_CALL}"
    )
    parser.add_argument(
        "--fast", action="store_true", help="run on a virtual clock (seconds, not real time)"
    )
    parser.add_argument("--out", help="output folder (default: replay-output/<name>)", default=None)
    parser.add_argument(
        "--check",
        action="store_true",
        help="exit 1 if the report differs from expect.json or llm.json missed an answer",
    )
    parser.add_argument(
        "--json", action="store_true", help="print the call report as JSON instead (on stdout)"
    )
    parser.add_argument(
        "--capture",
        action="store_true",
        help="also write capture.json, for `agent-runtime import-call` (as AGENT_CAPTURE does)",
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replay, show the call, and return the exit code."""
    from ..replay.clock import install_clock_hook

    if args.fast:
        install_clock_hook()  # before livekit is imported by the replay modules
    print("loading the runtime...", file=sys.stderr, flush=True)
    from ..config.attempt import TranscriptRow
    from ..errors import AgentRuntimeError
    from ..replay.run import run_replay
    from .call_view import row_line, summary

    folder = Path(args.folder)
    output = Path(args.out) if args.out else Path("replay-output") / folder.resolve().name
    speed = "on a virtual clock" if args.fast else "at real speed"

    def show(row: TranscriptRow, at: float) -> None:
        print(row_line(row, at), flush=True)

    print(f"replaying {folder} {speed}...", file=sys.stderr, flush=True)
    try:
        result = run_replay(
            folder,
            fast=args.fast,
            output_dir=output,
            stop_on_sigterm=True,
            on_row=None if args.json else show,
            capture=args.capture,
        )
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    report = result.call.report
    if args.json:
        print(report.to_json())
    else:
        print()
        print(
            summary(
                report,
                report_path=result.call.report_path,
                recording_path=result.call.recording_path,
            )
        )
        print(f"{'voice':<10} {result.tts_engine} (offline)")
    return _verdict(result, check=args.check)


def _verdict(result: ReplayResult, *, check: bool) -> int:
    """Say what the recorded call lacked or where the report differs; the exit code."""
    from ..replay.expect import check as differences

    unanswered = [  # the after-call steps' answers are optional: without one a step fails
        f"llm.json has no answer for LLM request {n} ({request.describe()})"
        for n, request in enumerate(result.llm_requests, 1)
        if request.answered_with is None
    ]
    for line in unanswered:
        print(f"MISSING {line}", file=sys.stderr)
    if not check:
        return 0
    problems = differences(result.call.report, result.recorded.expect)
    for problem in problems:
        print(f"MISMATCH {problem}", file=sys.stderr)
    failed = bool(problems or unanswered)
    print("CHECK " + ("FAILED" if failed else "OK"), file=sys.stderr)
    return 1 if failed else 0
