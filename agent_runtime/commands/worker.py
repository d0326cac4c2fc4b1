"""``agent-runtime start`` / ``dev``: run the LiveKit worker that answers phone calls.

Both hand the rest of the command line to the LiveKit agents CLI (``--url``, ``--api-key``,
``--api-secret``, ``--log-level``...; ``agent-runtime start --help`` lists them). Before it,
the start-up checks (``worker.startup``) make sure the worker can take calls.

Exit codes: 0 stopped (SIGTERM or SIGINT, after the drain); 1 the worker failed on an error of
its own; 2 a setting is unreadable or a start-up check failed (nothing was registered); 3 the
worker could not register with LiveKit (unreachable, refused, or no answer within
``AGENT_REGISTER_TIMEOUT``).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..worker.settings import WorkerSettings

MODES = {
    "start": "run the worker in production mode",
    "dev": "run the worker in development mode (debug logs, no drain; deprecated by LiveKit)",
}


def add_parser(commands: Any) -> None:
    """Register the ``start`` and ``dev`` sub-commands."""
    for mode, summary in MODES.items():
        parser: argparse.ArgumentParser = commands.add_parser(
            mode,
            help=summary,
            description=f"{summary[0].upper()}{summary[1:]}: register with the LiveKit server "
            "and take one job per phone call. Other options go to the LiveKit agents CLI.",
            prefix_chars="+",
            add_help=False,
        )
        parser.add_argument(
            "livekit_args", nargs=argparse.REMAINDER, help="options of the LiveKit agents CLI"
        )
        parser.set_defaults(run=run, mode=mode)


def run(args: argparse.Namespace) -> int:
    """Check the settings, then run the worker until it is stopped; return the exit code."""
    from ..errors import SettingsError
    from ..worker.settings import WorkerSettings
    from ..worker.startup import EXIT_SETTINGS, check_startup

    try:
        settings = WorkerSettings.from_env(os.environ)
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_SETTINGS
    forwarded = list(args.livekit_args)
    if forwarded[:1] == ["--"]:
        forwarded = forwarded[1:]
    asks_help = bool({"-h", "--help"} & set(forwarded))
    if not asks_help:
        check = check_startup(settings, os.environ, forwarded)
        for warning in check.warnings:
            print(f"warning: {warning}", file=sys.stderr)
        for problem in check.problems:
            print(f"error: {problem}", file=sys.stderr)
        if check.problems:
            return EXIT_SETTINGS
    return _run_worker(settings, [args.mode, *forwarded], deliver=not asks_help)


def _run_worker(settings: WorkerSettings, argv: list[str], *, deliver: bool) -> int:
    """Hand ``argv`` to the LiveKit CLI with the agent server; its exit code.

    ``deliver``: recover the calls lost by the last worker and run the delivery loop.
    """
    from livekit.agents import cli

    from ..observability.server import start_metrics_server
    from ..post_call.lost_calls import queue_lost_calls
    from ..post_call.outbox import Outbox
    from ..report.journal import recover
    from ..worker.deliveries import DeliveryLoop
    from ..worker.server import build_server

    # The LiveKit CLI installs its own root handler (JSON for start, colours for dev); a handler
    # configured before it would print every line twice.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    sys.argv = ["agent-runtime", *argv]
    deliveries = DeliveryLoop(settings) if deliver else None
    if deliveries is not None:
        lost = recover(settings.report_dir)  # calls whose process died under the last worker
        if lost:
            outbox = Outbox(settings.outbox_path)
            try:
                queued = queue_lost_calls(lost, outbox)
            finally:
                outbox.close()
            print(
                f"reported {len(lost)} calls whose process had died"
                f" ({len(queued)} webhooks queued)",
                file=sys.stderr,
            )
        deliveries.start()
    server = build_server(settings)
    metrics = (
        None
        if deliveries is None
        else start_metrics_server(settings.observability.metrics, settings.outbox_path)
    )
    try:
        cli.run_app(server)  # ends with SystemExit (the LiveKit CLI is a click application)
    except SystemExit:
        if server.failure is None:
            raise
    finally:
        if deliveries is not None:
            deliveries.stop()
        if metrics is not None:
            metrics.close()
    if server.failure is not None:
        print(f"error: {server.failure.message}", file=sys.stderr)
        return server.failure.exit_code
    return 0
