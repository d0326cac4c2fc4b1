"""The ``agent-runtime`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence

from .commands import check_config, console, replay, worker


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description="Realtime voice-agent runtime for phone calls."
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="log at INFO level")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_config.add_parser(commands)
    replay.add_parser(commands)
    console.add_parser(commands)
    worker.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = _parser().parse_args(argv)
    if args.command not in ("start", "dev"):  # the LiveKit CLI sets up the worker's logging
        logging.basicConfig(
            level=logging.INFO if args.verbose else logging.WARNING,
            format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        )
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
