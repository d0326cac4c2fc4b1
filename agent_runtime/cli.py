"""The ``agent-runtime`` command line."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from importlib import metadata

from .commands import check_config, console, import_call, make_call, replay, worker

_VERBOSE_HELP = "log at INFO level, with the tracebacks of errors"


def _version() -> str:
    ours = metadata.version("agent-runtime")
    return f"agent-runtime {ours} (livekit-agents {metadata.version('livekit-agents')})"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="agent-runtime", description="Realtime voice-agent runtime for phone calls."
    )
    parser.add_argument("--version", action="version", version=_version())
    parser.add_argument("-v", "--verbose", action="store_true", help=_VERBOSE_HELP)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    check_config.add_parser(commands)
    replay.add_parser(commands)
    make_call.add_parser(commands)
    import_call.add_parser(commands)
    console.add_parser(commands)
    worker.add_parser(commands)
    for name, command in commands.choices.items():
        if name not in worker.MODES:  # the LiveKit CLI takes every option of the worker
            command.add_argument(
                "-v",
                "--verbose",
                action="store_true",
                default=argparse.SUPPRESS,
                help=_VERBOSE_HELP,
            )
    return parser


class OneLineFormatter(logging.Formatter):
    """Log lines without tracebacks: an error's type and message end its line instead."""

    def format(self, record: logging.LogRecord) -> str:
        """The record on one line."""
        line = super().format(
            logging.makeLogRecord(
                {**record.__dict__, "exc_info": None, "exc_text": None, "stack_info": None}
            )
        )
        if record.exc_info and record.exc_info[1] is not None:
            error = record.exc_info[1]
            line += f" ({type(error).__name__}: {error}; -v shows the traceback)"
        return line


def _configure_logging(verbose: bool) -> None:
    handler = logging.StreamHandler()
    fmt = "%(asctime)s %(levelname)s %(name)s: %(message)s"
    handler.setFormatter(logging.Formatter(fmt) if verbose else OneLineFormatter(fmt))
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, handlers=[handler])


def main(argv: Sequence[str] | None = None) -> int:
    """Run the command line and return its exit code."""
    args = _parser().parse_args(argv)
    if args.command not in worker.MODES:  # the LiveKit CLI sets up the worker's logging
        _configure_logging(args.verbose)
    code: int = args.run(args)
    return code


if __name__ == "__main__":
    sys.exit(main())
