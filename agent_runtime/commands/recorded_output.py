"""What ``make-call`` and ``import-call`` share: the recorded-call folder they write."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path


def add_output_arguments(parser: argparse.ArgumentParser) -> None:
    """``--out DIR`` and ``--force``."""
    parser.add_argument("--out", required=True, help="the recorded call folder to write")
    parser.add_argument(
        "--force", action="store_true", help="write into a folder that already has files"
    )


def write_recorded_call(args: argparse.Namespace, make: Callable[[Path], list[str]]) -> int:
    """Write the folder with ``make`` (it returns the files written); the exit code."""
    from ..errors import AgentRuntimeError

    out = Path(args.out)
    if out.is_dir() and any(out.iterdir()) and not args.force:
        print(f"error: {out} is not empty (--force writes into it)", file=sys.stderr)
        return 1
    try:
        written = make(out)
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"wrote {out}: {', '.join(written)}")
    print(f"replay it: agent-runtime replay {out} --fast --check")
    return 0
