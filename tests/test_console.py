"""``agent-runtime console --text``: a call typed at the keyboard, against a local LLM server."""

from __future__ import annotations

import asyncio
import json
import os
import sys
from pathlib import Path

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
        env = {**os.environ, "OPENAI_API_KEY": "test", "OPENAI_BASE_URL": f"{base}/v1"}
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
