"""``agent-runtime console --text``: a call typed at the keyboard, against a local LLM server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

import pytest

from agent_runtime.replay.llm_server import (
    LLMScript,
    ScriptedAnswer,
    ScriptedLLMServer,
    ScriptedToolCall,
    When,
)
from agent_runtime.replay.local_server import serve

from .conftest import ROOT

SCRIPT = LLMScript(
    answers=[
        ScriptedAnswer(when=When(user_contains="hours"), text="We open at nine.", ttft=0.1),
        ScriptedAnswer(
            when=When(user_contains="bye"), tool_calls=[ScriptedToolCall(name="end_call")], ttft=0.1
        ),
    ]
)


def _row(line: str) -> str:
    """A printed transcript row without its time and padding: ``agent Hi, Alex here.``"""
    at, _, rest = line.strip().partition("s  ")
    float(at)  # every row starts with its time
    return " ".join(rest.split())


async def test_text_mode_conversation_ends_with_the_end_call_tool(tmp_path: Path) -> None:
    config = tmp_path / "assistant.json"
    config.write_text(
        json.dumps(
            {
                "prompt": "You are Alex.",
                "first_sentence": "Hi, Alex here.",
                "first_sentence_mode": "static",
                "first_sentence_delay_ms": 0,
                "end_of_call_sentence": "Goodbye from Acme.",
            }
        )
    )
    server = ScriptedLLMServer(SCRIPT)
    async with serve(server.app) as base:
        keyless = {k: v for k, v in os.environ.items() if k != "OPENAI_API_KEY"}
        env = {**keyless, "OPENAI_BASE_URL": f"{base}/v1"}  # a local server needs no key
        proc = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "agent_runtime.cli",
            "console",
            "--call",
            str(config),
            "--text",
            "--out",
            str(tmp_path / "out"),
            stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
            env=env,
            cwd=ROOT,
        )
        assert proc.stdin is not None and proc.stdout is not None
        output = proc.stdout
        seen: list[str] = []

        async def until(line: str) -> None:
            while line not in seen:
                seen.append(_row((await asyncio.wait_for(output.readline(), 60)).decode()))

        await until("agent Hi, Alex here.")
        proc.stdin.write(b"What are your hours?\n")
        await proc.stdin.drain()
        await until("agent We open at nine.")
        proc.stdin.write(b"ok bye\n")
        await proc.stdin.drain()
        stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)  # stdin stays open
    lines = seen + [_row(line) for line in stdout.decode().splitlines()]
    assert lines == [
        "agent Hi, Alex here.",
        "caller What are your hours?",
        "agent We open at nine.",
        "caller ok bye",
        "tool end_call() -> ok: The call is ending.",
        "agent Goodbye from Acme.",
    ], stderr.decode()
    assert proc.returncode == 0
    report = json.loads((tmp_path / "out/report.json").read_text())
    assert (report["ended_by"], report["end_reason"]) == ("agent", "tool_end_call")


async def _console(
    tmp_path: Path, *args: str, env: dict[str, str] | None = None
) -> asyncio.subprocess.Process:
    return await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "agent_runtime.cli",
        "console",
        *args,
        "--out",
        str(tmp_path / "out"),
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env=env if env is not None else dict(os.environ),
        cwd=ROOT,
    )


GREETING = "Hi, Alex here. I can tell you about our hours, our stores and your orders today."


async def test_offline_text_mode_needs_no_key_and_prints_replies_as_they_are_spoken(
    tmp_path: Path,
) -> None:
    config = tmp_path / "assistant.json"
    config.write_text(
        json.dumps(
            {
                "prompt": "You are Alex.",
                "first_sentence": GREETING,
                "first_sentence_mode": "static",
                "first_sentence_delay_ms": 0,
            }
        )
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENAI")}
    proc = await _console(tmp_path, "--call", str(config), "--text", "--offline", env=env)
    assert proc.stdin is not None and proc.stdout is not None
    shown = ""
    partial_seen = False  # the greeting's row on screen before its last word
    while "today." not in shown:
        chunk = await asyncio.wait_for(proc.stdout.read(256), 60)
        assert chunk, "the console ended before its greeting"
        shown += chunk.decode()
        partial_seen |= "agent   Hi, Alex here." in shown and "today." not in shown
    assert partial_seen, shown
    proc.stdin.write(b"where is my order\n")
    await proc.stdin.drain()
    while not shown.endswith("You said: where is my order\n"):
        chunk = await asyncio.wait_for(proc.stdout.read(256), 60)
        assert chunk, "the console ended before its reply"
        shown += chunk.decode()
    proc.stdin.close()  # Ctrl-D: the caller hangs up
    stdout, stderr = await asyncio.wait_for(proc.communicate(), 60)
    lines = [_row(line) for line in (shown + stdout.decode()).splitlines() if line.strip()]
    assert lines[0] == f"agent {GREETING}"
    assert "caller where is my order" in lines
    assert "agent You said: where is my order" in lines, stderr.decode()
    assert lines.count(f"agent {GREETING}") == 1  # each reply printed once
    assert proc.returncode == 0


async def test_console_mistakes_are_one_line_errors(tmp_path: Path) -> None:
    config = tmp_path / "assistant.json"
    config.write_text(json.dumps({"prompt": "You are Alex."}))
    script = tmp_path / "llm.json"
    script.write_text(json.dumps({"answers": [{"txt": "hi"}]}))
    bad = await _console(
        tmp_path, "--call", str(config), "--text", "--offline", "--llm-script", str(script)
    )
    _, stderr = await asyncio.wait_for(bad.communicate(b""), 120)
    assert bad.returncode == 1
    assert f"--llm-script {script}: $.answers[0].txt" in stderr.decode()
    assert "Traceback" not in stderr.decode()


async def test_audio_mode_without_a_sound_device_says_so_in_one_line(tmp_path: Path) -> None:
    import sounddevice

    if sounddevice.query_devices():
        pytest.skip("this machine has a sound device")
    config = tmp_path / "assistant.json"
    config.write_text(json.dumps({"prompt": "You are Alex."}))
    proc = await _console(
        tmp_path,
        "--call",
        str(config),
        "--offline-voice",
        env={**os.environ, "OPENAI_API_KEY": "k"},
    )
    _, stderr = await asyncio.wait_for(proc.communicate(), 120)
    assert proc.returncode == 1
    message = stderr.decode()
    assert "error: no usable audio device" in message and "use --text" in message
    assert "Traceback" not in message


async def test_a_refused_key_is_one_line_per_error_not_a_traceback(tmp_path: Path) -> None:
    config = tmp_path / "assistant.json"
    config.write_text(json.dumps({"prompt": "You are Alex.", "first_sentence_mode": "none"}))
    server = ScriptedLLMServer(LLMScript(answers=[ScriptedAnswer(status=401)]))
    async with serve(server.app) as base:
        env = {**os.environ, "OPENAI_API_KEY": "sk-wrong", "OPENAI_BASE_URL": f"{base}/v1"}
        proc = await _console(tmp_path, "--call", str(config), "--text", env=env)
        assert proc.stdin is not None and proc.stdout is not None
        proc.stdin.write(b"hello there\n")
        await proc.stdin.drain()
        while b"Sorry, I missed that" not in await asyncio.wait_for(proc.stdout.readline(), 60):
            pass  # the turn failed: the recovery line
        proc.stdin.close()
        _, stderr = await asyncio.wait_for(proc.communicate(), 60)
    assert server.requests, "the LLM was asked"
    errors = stderr.decode()
    assert "Traceback" not in errors
    assert any("401" in line for line in errors.splitlines())  # said, in a line
    assert len(errors.splitlines()) < 30  # not ~140 lines of traceback per failed turn
