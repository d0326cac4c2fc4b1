"""``agent-runtime make-call SCRIPT --out DIR``: a recorded call from a script of the call."""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from .recorded_output import add_output_arguments, write_recorded_call


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
    add_output_arguments(parser)
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Make the recorded call; return the exit code."""
    from ..replay.authoring import make_recorded_call

    return write_recorded_call(args, lambda out: make_recorded_call(Path(args.script), out))
