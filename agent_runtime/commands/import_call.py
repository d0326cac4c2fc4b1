"""``agent-runtime import-call CALL_DIR --out DIR``: a call that happened, as a recorded call."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .recorded_output import add_output_arguments, write_recorded_call


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "import-call",
        help="turn a call's report and recording (and capture) into a recorded call",
        description="Turn a call that happened into a recorded call folder that replays "
        "offline: CALL_DIR holds its report.json and recording.wav and, if the call was "
        "captured (AGENT_CAPTURE), capture.json; without a capture give the call config with "
        "--call. expect.json is drawn from what happened: edit it into the regression test.",
    )
    parser.add_argument("call_dir", help="the call's folder (report.json, recording.wav...)")
    parser.add_argument("--call", help="the call config, when the call was not captured")
    add_output_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import the call; return the exit code."""
    from ..replay.import_call import import_call

    config = Path(args.call) if args.call else None
    return write_recorded_call(
        args, lambda out: import_call(Path(args.call_dir), out, config=config)
    )
