"""``agent-runtime start`` / ``dev``: run the LiveKit worker that answers phone calls.

Both hand the rest of the command line to the LiveKit agents CLI (``--url``, ``--api-key``,
``--api-secret``, ``--log-level``...; ``agent-runtime start --help`` lists them).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import Any

_MODES = {
    "start": "run the worker in production mode",
    "dev": "run the worker in development mode (debug logs)",
}


def add_parser(commands: Any) -> None:
    """Register the ``start`` and ``dev`` sub-commands."""
    for mode, summary in _MODES.items():
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
    """Run the worker until it is stopped; return the exit code."""
    from ..errors import SettingsError
    from ..observability.server import start_metrics_server
    from ..post_call.lost_calls import queue_lost_calls
    from ..post_call.outbox import Outbox
    from ..report.journal import recover
    from ..worker.deliveries import DeliveryLoop
    from ..worker.server import build_server
    from ..worker.settings import WorkerSettings

    try:
        settings = WorkerSettings.from_env(os.environ)
    except SettingsError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    from livekit.agents import cli

    # The LiveKit CLI installs its own root handler (JSON for start, colours for dev); a handler
    # configured before it would print every line twice.
    root = logging.getLogger()
    for handler in list(root.handlers):
        root.removeHandler(handler)
    forwarded = list(args.livekit_args)
    if forwarded[:1] == ["--"]:
        forwarded = forwarded[1:]
    sys.argv = ["agent-runtime", args.mode, *forwarded]
    deliveries = None if {"-h", "--help"} & set(forwarded) else DeliveryLoop(settings)
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
    metrics = (
        None
        if deliveries is None
        else start_metrics_server(settings.observability.metrics, settings.outbox_path)
    )
    try:
        cli.run_app(build_server(settings))
    finally:
        if deliveries is not None:
            deliveries.stop()
        if metrics is not None:
            metrics.close()
    return 0
