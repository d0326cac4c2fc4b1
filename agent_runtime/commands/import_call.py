"""``agent-runtime import-call CALL_DIR --out DIR``: a call that happened, as a recorded call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


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
    parser.add_argument("--out", required=True, help="the recorded call folder to write")
    parser.add_argument("--call", help="the call config, when the call was not captured")
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that already has files"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Import the call; return the exit code."""
    from ..errors import AgentRuntimeError
    from ..replay.import_call import import_call

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(f"error: {out} is not empty (--force writes into it)", file=sys.stderr)
        return 1
    try:
        written = import_call(
            Path(args.call_dir), out, config=Path(args.call) if args.call else None
        )
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {', '.join(written)}")
    print(f"replay it: agent-runtime replay {out} --fast --check")
    return 0
