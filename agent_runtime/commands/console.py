"""``agent-runtime console --call FILE``: talk to the agent through the microphone, or by text."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from ..config.attempt import TranscriptRow
    from ..telephony.local import LocalLine


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "console",
        help="talk to an assistant locally (microphone and speaker, or --text)",
        description="Run a call locally. Audio mode uses the default microphone and speaker "
        "(PortAudio: apt install libportaudio2); hang up with Ctrl-C. Text mode (--text) needs "
        "no audio device: type what the caller says, Ctrl-D hangs up. Providers come from the "
        "environment as in the worker (see docs/providers.md).",
    )
    parser.add_argument("--call", required=True, help="a call or assistant JSON file")
    parser.add_argument("--text", action="store_true", help="type instead of speaking")
    parser.add_argument(
        "--offline-voice",
        action="store_true",
        help="speak with the offline voice (espeak-ng) instead of the configured provider",
    )
    parser.add_argument("--out", default="console-output", help="where report and recording go")
    parser.set_defaults(run=run)


KEYS_PREFIX = "keys:"
"""A typed line ``keys: 4711#`` presses keys on the phone instead of saying something."""


async def _typed_lines(line: LocalLine) -> AsyncIterator[str]:
    """Lines typed on stdin, read by a daemon thread so that the agent can hang up first.

    A line that starts with ``keys:`` presses its keys instead.
    """
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while (typed := await lines.get()) is not None:
        text = typed.strip()
        if text.lower().startswith(KEYS_PREFIX):
            try:
                line.press(text[len(KEYS_PREFIX) :])
            except ValueError as err:
                print(f"not sent: {err}", file=sys.stderr)
        elif text:
            yield text
    line.caller_left.set()


def _show(row: TranscriptRow, at: float) -> None:
    from .call_view import row_line

    print(row_line(row, at), flush=True)


async def _console(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from ..call.ports import CallPorts
    from ..call.runner import CallRunner
    from ..call.settings import RuntimeSettings
    from ..config.loading import load_file
    from ..media.console import ConsoleAudioMedia, TextMedia
    from ..offline_tts import OfflineTTS
    from ..providers import (
        Clients,
        Providers,
        aside_llm,
        build_llm,
        build_stt,
        build_turn_detector,
        build_vad,
        build_voice,
        with_fallback_llm,
    )
    from ..telephony.local import LocalLine

    settings = RuntimeSettings.from_env(os.environ)
    spec = load_file(args.call)
    for warning in spec.warnings:
        print(f"warning {warning}", file=sys.stderr)
    clients = Clients()
    offline = args.offline_voice or args.text
    providers = Providers(
        stt=None if args.text else build_stt(settings.providers, clients),
        llm=with_fallback_llm(
            build_llm(spec.llm_model, settings.providers, clients), settings.providers, clients
        ),
        tts=OfflineTTS.for_voice(spec.voice)
        if offline
        else build_voice(spec.voice, settings.providers),
        vad=build_vad(),
        turn_detector=build_turn_detector(),
        clients=clients,
        aside_llm=aside_llm(spec.llm_model, settings.providers, clients),
    )
    line = LocalLine(notice=lambda text: print(f"[line] {text}", file=sys.stderr, flush=True))
    options = settings.call.run_options(
        output_dir=Path(args.out), on_row=_show, stop_on_sigterm=True
    )
    media: TextMedia | ConsoleAudioMedia
    if args.text:
        media = TextMedia()
        options = replace(options, typed_turns=_typed_lines(line))
        print(
            "Type what the caller says (keys: 4711# presses keys); Ctrl-D hangs up.",
            file=sys.stderr,
        )
    else:
        media = ConsoleAudioMedia()
        media.start(asyncio.get_running_loop())
        print("Speak into the microphone; Ctrl-C hangs up.", file=sys.stderr)
    runner = CallRunner(spec, providers, CallPorts(media, line, settings.integrations), options)
    task = asyncio.create_task(runner.run())
    try:
        result = await asyncio.shield(task)
    except asyncio.CancelledError:
        line.caller_left.set()
        result = await task
    finally:
        if isinstance(media, ConsoleAudioMedia):
            media.close()
        await providers.aclose()
    report = result.report
    print(f"call ended: ended_by={report.ended_by} end_reason={report.end_reason}", file=sys.stderr)
    print(f"report: {result.report_path}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the console call."""
    from ..errors import AgentRuntimeError

    try:
        return asyncio.run(_console(args))
    except KeyboardInterrupt:
        return 130
    except AgentRuntimeError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
