"""``agent-runtime console --call FILE``: talk to the agent through the microphone, or by text."""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import threading
import time
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from livekit.agents import llm
    from livekit.agents import stt as stt_plugin

    from ..call.settings import RuntimeSettings
    from ..config.attempt import TranscriptRow
    from ..config.spec import CallSpec
    from ..media.console import ConsoleAudioMedia, TextMedia
    from ..providers import Providers
    from ..replay.llm_server import LLMScript
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
    parser.add_argument(
        "--offline",
        action="store_true",
        help="no keys and no network: a local LLM stand-in repeats what the caller says, or "
        "answers from --llm-script; the offline voice; in audio mode each stretch of speech is "
        "transcribed as its length, '(speech, 1.4 s)' (there is no offline speech recognition)",
    )
    parser.add_argument(
        "--llm-script",
        metavar="FILE",
        help="with --offline: answers in the llm.json format of recorded calls (docs/replay.md)",
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


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


async def _console(args: argparse.Namespace) -> int:
    from ..call.settings import RuntimeSettings
    from ..config.loading import load_file
    from ..media.console import ConsoleAudioMedia, TextMedia

    settings = RuntimeSettings.from_env(os.environ)
    spec = load_file(args.call)
    for warning in spec.warnings:
        print(f"warning {warning}", file=sys.stderr)
    media = TextMedia() if args.text else ConsoleAudioMedia()  # no device: a clear error now
    try:
        async with AsyncExitStack() as stack:
            providers = await _providers(args, spec, settings, stack)
            return await _call(args, spec, settings, providers, media)
    finally:
        if isinstance(media, ConsoleAudioMedia):
            media.close()


async def _providers(
    args: argparse.Namespace, spec: CallSpec, settings: RuntimeSettings, stack: AsyncExitStack
) -> Providers:
    """The call's providers: from the environment, or offline (``--offline``)."""
    from ..offline_stt import OfflineSTT
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

    clients = Clients()
    stack.push_async_callback(clients.aclose)
    offline_voice = args.offline_voice or args.text or args.offline
    model: llm.LLM | llm.RealtimeModel
    aside: llm.LLM | None
    if args.offline:
        from livekit.plugins import openai

        from ..replay.llm_server import LLMScript, ScriptedLLMServer
        from ..replay.local_server import serve

        script = _llm_script(Path(args.llm_script)) if args.llm_script else LLMScript()
        base = await stack.enter_async_context(serve(ScriptedLLMServer(script, echo=True).app))

        def chat() -> llm.LLM:
            return openai.LLM(model="replay", client=clients.openai("offline", f"{base}/v1"))

        model, aside = chat(), chat()
    else:
        model = with_fallback_llm(
            build_llm(spec.llm_model, settings.providers, clients), settings.providers, clients
        )
        aside = aside_llm(spec.llm_model, settings.providers, clients)
    stt: stt_plugin.STT | None = None
    if not args.text:
        stt = OfflineSTT() if args.offline else build_stt(settings.providers, clients)
    providers = Providers(
        stt=stt,
        llm=model,
        tts=OfflineTTS.for_voice(spec.voice)
        if offline_voice
        else build_voice(spec.voice, settings.providers),
        vad=build_vad(),
        turn_detector=build_turn_detector(),
        clients=clients,
        aside_llm=aside,
    )
    stack.push_async_callback(providers.aclose)
    return providers


def _llm_script(path: Path) -> LLMScript:
    """The ``--llm-script`` file, or an error naming what is wrong with it."""
    from pydantic import ValidationError

    from ..config.base import problems_from
    from ..errors import ProviderConfigError
    from ..replay.llm_server import LLMScript

    try:
        return LLMScript.model_validate_json(path.read_bytes())
    except OSError as err:
        raise ProviderConfigError(f"--llm-script {path}: {err.strerror}") from None
    except ValidationError as err:
        problems = "; ".join(str(p) for p in problems_from(err))
        raise ProviderConfigError(f"--llm-script {path}: {problems}") from None


async def _call(
    args: argparse.Namespace,
    spec: CallSpec,
    settings: RuntimeSettings,
    providers: Providers,
    media: TextMedia | ConsoleAudioMedia,
) -> int:
    from ..call.ports import CallPorts
    from ..call.runner import CallRunner
    from ..media.console import SpokenWords, TextMedia
    from ..telephony.local import LocalLine
    from .call_view import row_line

    line = LocalLine(notice=lambda text: print(f"[line] {text}", file=sys.stderr, flush=True))
    answered = time.time()
    words = SpokenWords(_write, clock=lambda: time.time() - answered)

    shown_replies = 0

    def show(row: TranscriptRow, at: float) -> None:
        nonlocal shown_replies
        if row.role == "assistant" and words.started > shown_replies:
            shown_replies += 1  # printed word by word as it was spoken
            return
        words.break_line()
        _write(row_line(row, at) + "\n")

    options = settings.call.run_options(
        output_dir=Path(args.out), on_row=show, agent_words=words, stop_on_sigterm=True
    )
    if isinstance(media, TextMedia):
        options = replace(options, typed_turns=_typed_lines(line))
        print(
            "Type what the caller says (keys: 4711# presses keys); Ctrl-D hangs up.",
            file=sys.stderr,
        )
    else:
        media.start(asyncio.get_running_loop())
        print("Speak into the microphone; Ctrl-C hangs up.", file=sys.stderr)
    runner = CallRunner(spec, providers, CallPorts(media, line, settings.integrations), options)
    task = asyncio.create_task(runner.run())
    try:
        result = await asyncio.shield(task)
    except asyncio.CancelledError:
        line.caller_left.set()
        result = await task
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
