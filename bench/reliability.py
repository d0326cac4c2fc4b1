"""Figure 7: what the caller hears when a provider or a tool fails mid-call.

The demo call (``order_status``) is replayed on the virtual clock with one fault injected at the
network boundary per run: the local OpenAI-compatible server never answers, stalls after two
tokens, or answers 500 to every try; the order service never answers; the voice provider (the
real Cartesia plugin against a local stand-in of its API) answers 500 or never answers, alone
or, as the worker builds it by default, with the offline last resort after it. No fallback
provider is configured. Printed per fault: the silence the caller lives through after
the question (from the end of their speech to the next thing they hear: the holding line or
the agent's voice), whether the turn was apologised for, how the call ended, its status, and
whether the report was written. The targets are absolute (the issue's): heard within 2 s of
the end of the turn being known, the turn answered or apologised for, the report written.

    python -m bench.reliability
"""

# The virtual clock must be hooked in before livekit is imported (see replay/clock.py).
from agent_runtime.replay.clock import install_clock_hook

install_clock_hook()

import argparse  # noqa: E402
import asyncio  # noqa: E402
import json  # noqa: E402
import logging  # noqa: E402
import shutil  # noqa: E402
import tempfile  # noqa: E402
from collections.abc import Callable  # noqa: E402
from dataclasses import asdict, dataclass  # noqa: E402
from pathlib import Path  # noqa: E402
from typing import Any  # noqa: E402

from aiohttp import web  # noqa: E402

from agent_runtime.call.options import RECOVERY_LINE  # noqa: E402
from agent_runtime.call.session import TurnOptions  # noqa: E402
from agent_runtime.replay.clock import run_virtual  # noqa: E402
from agent_runtime.replay.local_server import serve  # noqa: E402
from agent_runtime.replay.recorded_call import RecordedCall  # noqa: E402
from agent_runtime.replay.run import ReplayResult, replay  # noqa: E402

from .common import FIXTURES, machine, ms, table  # noqa: E402

Change = Callable[[dict[str, Any], dict[str, Any]], None]


SURE = 0.3
"""Seconds of end-of-turn wait in the "sure turn" runs: the runtime's minimum."""
LIMIT = 12.0
"""Seconds of the call's limit in the limited runs: after the question (it ends at 10.2 s)."""
LIMIT_MESSAGE = "We have reached the time limit for this call. Goodbye."


@dataclass(frozen=True)
class Fault:
    """One injected fault: what it changes in the recorded call, or how the voice fails."""

    name: str
    change: Change | None = None
    voice: str | None = None
    """``error`` or ``hang``: the voice provider's stand-in fails that way."""
    last_resort: bool = False
    """The voice as the worker builds it by default, with the offline last resort after it
    (``TTS_LAST_RESORT``); otherwise the provider's voice alone."""


def _hang(llm: dict[str, Any], _: dict[str, Any]) -> None:
    llm["answers"][0]["hang"] = True


def _stall(llm: dict[str, Any], _: dict[str, Any]) -> None:
    first = llm["answers"][0]
    first.pop("tool_calls")
    first.update({"text": "Let me check that order for you.", "stall_after": 2})


def _error(llm: dict[str, Any], _: dict[str, Any]) -> None:
    llm["answers"][0]["status"] = 500


def _slow_tool(_: dict[str, Any], http: dict[str, Any]) -> None:
    http["answers"][0]["delay"] = 60.0


FAULTS = (
    Fault("none"),
    Fault("LLM never answers", _hang),
    Fault("LLM stalls after two tokens", _stall),
    Fault("LLM answers 500", _error),
    Fault("tool never answers", _slow_tool),
    Fault("voice answers 500", voice="error"),
    Fault("voice never answers", voice="hang"),
    Fault("voice answers 500, last resort", voice="error", last_resort=True),
    Fault("voice never answers, last resort", voice="hang", last_resort=True),
)


@dataclass(frozen=True)
class Outcome:
    """What one faulty call did."""

    fault: str
    silence: float | None
    apologised: bool
    answered: bool
    end: str
    status: str
    report_written: bool
    sure_silence: float | None
    """The silence again, with the end of turn known at once (the end-of-turn wait fixed at
    ``SURE`` s, as for a caller the model is sure of): what the fault alone adds."""
    past_limit: float | None
    """With the call's limit at ``LIMIT`` s (reached while the fault holds), seconds from the
    limit to the hang-up (the max-duration message included); None: the limit did not end it."""


def _voice_api(mode: str) -> web.Application:
    async def answer(request: web.Request) -> web.Response:
        await request.read()
        if mode == "hang":
            await asyncio.Event().wait()
        return web.Response(status=500, text="internal error")

    app = web.Application()
    app.router.add_post("/tts/bytes", answer)
    return app


def _folder(root: Path, fault: Fault, *, limited: bool = False) -> Path:
    folder = root / (fault.name.replace(" ", "_") + ("-limited" if limited else ""))
    shutil.copytree(FIXTURES / "order_status", folder)
    if limited:  # the limit falls while the fault holds the answer to the question
        call = json.loads((folder / "call.json").read_text())
        call["call"]["assistant"]["max_call_duration_secs"] = LIMIT
        call["call"]["assistant"]["max_duration_end_message"] = LIMIT_MESSAGE
        (folder / "call.json").write_text(json.dumps(call))
        (folder / "caller.json").write_text(json.dumps({"hangup_at": 60.0}))
    if fault.change is not None:
        llm = json.loads((folder / "llm.json").read_text())
        http = json.loads((folder / "http.json").read_text())
        fault.change(llm, http)
        (folder / "llm.json").write_text(json.dumps(llm))
        (folder / "http.json").write_text(json.dumps(http))
    return folder


def run_fault(root: Path, fault: Fault) -> Outcome:
    """Replay the demo call with ``fault`` and measure what the caller heard; again with a
    limit on the call's duration, and measure how the limit held."""
    result = _replayed(root, fault, limited=False)
    sure = _silence(_replayed(root, fault, limited=False, sure=True))
    limited = _replayed(root, fault, limited=True).call.report
    past = None
    if limited.end_reason == "max_duration" and limited.runtime.duration is not None:
        started, answered = limited.started_at, limited.answered_at
        answer = (answered - started).total_seconds() if started and answered else 0.0
        past = limited.runtime.duration - answer - LIMIT
    return _outcome(fault, result, sure, past)


def _replayed(root: Path, fault: Fault, *, limited: bool, sure: bool = False) -> ReplayResult:
    from livekit.agents import tts
    from livekit.plugins import cartesia

    from agent_runtime.config.voice import VoiceProfile
    from agent_runtime.providers import ProviderSettings, build_voice

    base = root / "sure" if sure else root
    base.mkdir(exist_ok=True)
    folder = _folder(base, fault, limited=limited)
    out = base / f"{folder.name}-out"
    turn = TurnOptions(min_endpointing_delay=SURE, max_endpointing_delay=SURE) if sure else None

    async def main() -> ReplayResult:
        recorded = RecordedCall.load(folder)
        if fault.voice is None:
            return await replay(recorded, inline_inference=True, output_dir=out, turn=turn)
        async with serve(_voice_api(fault.voice)) as base:
            voice: tts.TTS = cartesia.TTS(api_key="k", base_url=base, model="sonic-3")
            if fault.last_resort:
                env = {"CARTESIA_API_KEY": "k", "CARTESIA_BASE_URL": base}
                profile = VoiceProfile("cartesia", "voice", None, None)
                voice = build_voice(profile, ProviderSettings.from_env(env))
            return await replay(
                recorded, inline_inference=True, output_dir=out, voice=voice, turn=turn
            )

    result: ReplayResult = run_virtual(main)
    return result


def _silence(result: ReplayResult) -> float | None:
    """From the end of the caller's question to the next thing they heard."""
    report = result.call.report
    first = result.recorded.stt.utterances[0]  # the question
    asked = first.end + result.caller_offset
    heard = [e.at for e in report.runtime.events if e.type == "holding_line" and e.at > asked]
    heard += [s.start for s in report.runtime.speech if s.role == "assistant" and s.start > asked]
    return min(heard) - asked if heard else None


def _outcome(
    fault: Fault, result: ReplayResult, sure: float | None, past_limit: float | None
) -> Outcome:
    report = result.call.report
    said = [r.content for r in report.transcript or [] if r.role == "assistant"]
    return Outcome(
        fault=fault.name,
        silence=_silence(result),
        sure_silence=sure,
        apologised=any(text and RECOVERY_LINE.startswith(text) for text in said),
        answered=any("order four two seven" in text for text in said),
        end=f"{report.ended_by}/{report.end_reason}",
        status=report.status,
        report_written=result.call.report_path is not None and result.call.report_path.is_file(),
        past_limit=past_limit,
    )


def main() -> list[dict[str, Any]]:
    """Run every fault, print the table, return the figures."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--json", help="write the figures to this file")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    print(f"reliability: one fault per replay of the demo call; {machine()}")
    with tempfile.TemporaryDirectory() as tmp:
        outcomes = [run_fault(Path(tmp), fault) for fault in FAULTS]
    rows = [
        [
            o.fault,
            ms(o.silence),
            ms(o.sure_silence),
            "yes" if o.answered else "no",
            "yes" if o.apologised else "no",
            o.end,
            o.status,
            "yes" if o.report_written else "NO",
            "-" if o.past_limit is None else f"{o.past_limit:.1f} s",
        ]
        for o in outcomes
    ]
    headers = [
        "fault",
        "silence",
        "sure turn",
        "answered",
        "apologised",
        "ended",
        "status",
        "report",
        "past limit",
    ]
    print(table(headers, rows))
    print(
        "silence: from the end of the caller's question to the next thing heard (the holding"
        "\nline or the agent's voice); the replayed caller's end of turn takes up to 2.5 s to be"
        "\nsure (docs/replay.md), which is in these figures. sure turn: the silence again with the"
        f"\nend-of-turn wait fixed at {SURE:g} s (a turn the model is sure of): the fault's part."
        "\npast limit: the same call limited to"
        f"\n{LIMIT:g} s (while the fault holds the answer), from the limit to the hang-up, the"
        "\nmax-duration message included; '-': the limit did not end the call."
    )
    data = [asdict(o) for o in outcomes]
    if args.json:
        Path(args.json).write_text(json.dumps(data, indent=2))
    return data


if __name__ == "__main__":
    main()
