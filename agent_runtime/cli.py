"""The ``agent-runtime`` command line."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence

from .commands import check_config


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description="Realtime voice-agent runtime for phone calls."
    )
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_config.add_parser(commands)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = _parser().parse_args(argv)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
