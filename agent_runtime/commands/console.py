"""``agent-runtime console --call FILE``: talk to the agent through the microphone, or by text."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
from collections.abc import AsyncIterator
from typing import Any


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


async def _typed_lines(telephony: Any) -> AsyncIterator[str]:
    """Lines typed on stdin, read by a daemon thread so that the agent can hang up first."""
    loop = asyncio.get_running_loop()
    lines: asyncio.Queue[str | None] = asyncio.Queue()

    def read() -> None:
        for line in sys.stdin:
            loop.call_soon_threadsafe(lines.put_nowait, line)
        loop.call_soon_threadsafe(lines.put_nowait, None)

    threading.Thread(target=read, name="console-stdin", daemon=True).start()
    while (line := await lines.get()) is not None:
        if line.strip():
            yield line.strip()
    telephony.caller_left.set()


async def _console(args: argparse.Namespace) -> int:
    from dataclasses import replace
    from pathlib import Path

    from ..call.clip_store import ClipStore
    from ..call.runner import CallRunner, RunOptions
    from ..config.loading import load_file
    from ..media.console import ConsoleAudioMedia, ConsoleTelephony, TextMedia
    from ..offline_tts import OfflineTTS
    from ..providers import (
        ProviderEnv,
        Providers,
        build_llm,
        build_stt,
        build_tts,
        build_turn_detector,
        build_vad,
    )
    from ..report.model import TranscriptRow

    spec = load_file(args.call)
    for warning in spec.warnings:
        print(f"warning {warning}", file=sys.stderr)
    env = ProviderEnv.from_environ()
    voice = spec.assistant.voice
    tts = (
        OfflineTTS(speed=voice.speed if voice else 1.0)
        if args.offline_voice or args.text
        else build_tts(voice, env)
    )
    providers = Providers(
        stt=None if args.text else build_stt(env),
        llm=build_llm(spec.llm_model, env),
        tts=tts,
        vad=build_vad(),
        turn_detector=build_turn_detector(),
    )
    telephony = ConsoleTelephony()

    def show(row: TranscriptRow) -> None:
        who = {"user": "caller", "assistant": "agent", "tool": "tool"}[row.role]
        text = row.content if row.role != "tool" else f"{row.tool_name} -> {row.tool_output}"
        print(f"[{who}] {text}", flush=True)

    options = RunOptions(
        output_dir=Path(args.out),
        env=dict(os.environ),
        on_row=show,
        clip_store=ClipStore.from_env(os.environ),
    )
    if args.text:
        media: Any = TextMedia()
        options = replace(options, typed_turns=_typed_lines(telephony))
        print("Type what the caller says; Ctrl-D hangs up.", file=sys.stderr)
    else:
        media = ConsoleAudioMedia()
        media.start(asyncio.get_running_loop())
        print("Speak into the microphone; Ctrl-C hangs up.", file=sys.stderr)
    runner = CallRunner(spec, providers, media, telephony, options)
    task = asyncio.create_task(runner.run())
    try:
        result = await asyncio.shield(task)
    except asyncio.CancelledError:
        telephony.caller_left.set()
        result = await task
    finally:
        if isinstance(media, ConsoleAudioMedia):
            media.close()
    report = result.report
    print(f"call ended: ended_by={report.ended_by} end_reason={report.end_reason}", file=sys.stderr)
    print(f"report: {result.report_path}", file=sys.stderr)
    return 0


def run(args: argparse.Namespace) -> int:
    """Run the console call."""
    from ..errors import RuntimeErrorBase

    try:
        return asyncio.run(_console(args))
    except KeyboardInterrupt:
        return 130
    except RuntimeErrorBase as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
