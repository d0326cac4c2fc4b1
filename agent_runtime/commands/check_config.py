"""``agent-runtime check-config FILE``: validate a call or assistant JSON and show the result."""

from __future__ import annotations

import argparse
import sys
from typing import Any

from ..config.loading import load_file
from ..errors import ConfigError


def add_parser(commands: Any) -> None:
    """Register the sub-command."""
    parser: argparse.ArgumentParser = commands.add_parser(
        "check-config",
        help="validate a call or assistant JSON file",
        description="Validate a call or assistant JSON file. Prints every problem with its JSON "
        "path, the warnings, and the prompt the LLM will receive. Exit code 1 when invalid.",
    )
    parser.add_argument("file", help='a call object, {"call": ...}, or an assistant object')
    parser.add_argument(
        "--strict", action="store_true", help="fail (exit code 1) on warnings as well"
    )
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Check the file and print the outcome; return the exit code."""
    try:
        spec = load_file(args.file)
    except ConfigError as err:
        print(f"INVALID {err.source}", file=sys.stderr)
        for problem in err.problems:
            print(f"  error   {problem}", file=sys.stderr)
        return 1
    print(f"VALID {args.file}")
    for warning in spec.warnings:
        print(f"  warning {warning}")
    assistant = spec.assistant
    tools = [tool.name for tool in assistant.custom_tools if tool.unusable_reason() is None]
    print(f"\ncall {spec.call.id} ({spec.call.direction}), callee time zone {spec.time_zone}")
    voice = assistant.voice.provider if assistant.voice else "default"
    print(f"llm_model: {spec.llm_model.type}; voice: {voice}")
    mode, delay = assistant.first_sentence_mode, spec.first_sentence_delay_ms
    print(f"first sentence ({mode}, {delay} ms): {spec.first_sentence or '-'}")
    print(f"max duration: {assistant.max_duration_secs:g} s")
    print(f"custom tools: {', '.join(tools) or '-'}")
    print("\n--- prompt sent to the LLM ---")
    print(spec.instructions)
    return 1 if args.strict and spec.warnings else 0
