"""``agent-runtime replay DIR``: play a recorded call through the runtime, print its report."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

DEFAULT_CALL = Path("fixtures/calls/order_status")


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "replay",
        help="replay a recorded call offline and print its call report",
        description="Play a recorded call (a folder: call.json, caller.wav, stt.json, llm.json...) "
        "through the runtime with no network and no keys. Writes report.json and recording.wav "
        "(stereo: caller left, what the caller heard right) and prints the report.",
    )
    parser.add_argument(
        "folder", nargs="?", default=str(DEFAULT_CALL), help=f"default: {DEFAULT_CALL}"
    )
    parser.add_argument(
        "--fast", action="store_true", help="run on a virtual clock (seconds, not real time)"
    )
    parser.add_argument("--out", help="output folder (default: replay-output/<name>)", default=None)
    parser.add_argument(
        "--check", action="store_true", help="exit 1 if the report differs from expect.json"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Replay, print the report, and return the exit code."""
    from ..replay.clock import install_clock_hook

    if args.fast:
        install_clock_hook()  # before livekit is imported by the replay modules
    from ..errors import AgentRuntimeError
    from ..replay.expect import check
    from ..replay.run import run_replay

    folder = Path(args.folder)
    output = Path(args.out) if args.out else Path("replay-output") / folder.resolve().name
    speed = "on a virtual clock" if args.fast else "at real speed"
    print(f"replaying {folder} {speed}...", file=sys.stderr)
    try:
        result = run_replay(folder, fast=args.fast, output_dir=output, stop_on_sigterm=True)
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(result.call.report.to_json())
    report = result.call.report
    print(
        f"\n{folder.name}: ended_by={report.ended_by} end_reason={report.end_reason} "
        f"({report.runtime.duration} s); voice: {result.tts_engine}\n"
        f"report: {result.call.report_path}\nrecording: {result.call.recording_path}",
        file=sys.stderr,
    )
    if args.check:
        problems = check(report, result.recorded.expect)
        for problem in problems:
            print(f"MISMATCH {problem}", file=sys.stderr)
        print("CHECK " + ("FAILED" if problems else "OK"), file=sys.stderr)
        return 1 if problems else 0
    return 0
