"""``agent-runtime make-call SCRIPT --out DIR``: a recorded call from a script of the call."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "make-call",
        help="make a recorded call from a script (caller lines, the agent's answers)",
        description="Make a recorded call folder from a script: the caller's lines (text spoken "
        "by espeak-ng, or WAV files) placed on a phone line, their transcripts timed from the "
        "audio, the agent's lines as the LLM's recorded answers and as expect.json. The script "
        "format is in docs/replay.md.",
    )
    parser.add_argument("script", help="the call script (JSON)")
    parser.add_argument("--out", required=True, help="the recorded call folder to write")
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that already has files"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Make the recorded call; return the exit code."""
    from ..errors import AgentRuntimeError
    from ..replay.authoring import make_recorded_call

    folder = Path(args.out)
    if folder.is_dir() and any(folder.iterdir()) and not args.force:
        print(f"error: {folder} is not empty (--force writes into it)", file=sys.stderr)
        return 1
    try:
        written = make_recorded_call(Path(args.script), folder)
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {folder}: {', '.join(written)}")
    print(f"replay it: agent-runtime replay {folder} --fast --check")
    return 0
