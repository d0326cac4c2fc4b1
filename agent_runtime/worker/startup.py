"""Checks made before the worker registers: it must be able to take the calls it is sent.

Each problem names the setting (or the thing) that is wrong, in one line; ``agent-runtime
start`` prints them and exits with ``EXIT_SETTINGS`` instead of registering a worker whose
every call would fail. What a call needs from the environment depends on its config (its
``llm_model`` and ``voice``), which arrives with the call; at start, the worker requires what
every call, or a call with the defaults, needs:

- the LiveKit server: ``LIVEKIT_URL`` (``ws``, ``wss``, ``http`` or ``https``, with a host),
  ``LIVEKIT_API_KEY``, ``LIVEKIT_API_SECRET`` (or ``--url``, ``--api-key``, ``--api-secret``);
- speech-to-text: the key of ``STT_PROVIDER`` (``OPENAI_API_KEY`` by default);
- a voice: ``CARTESIA_API_KEY`` or ``ELEVEN_API_KEY`` (a warning when Cartesia, the voice of
  assistants without a ``voice``, has no key);
- the fallbacks that are set: ``LLM_FALLBACK_MODEL``'s key, ``TTS_FALLBACK_VOICE``'s key;
- the report directory, and the outbox's, writable;
- the local VAD and end-of-turn models loadable (they ship inside ``livekit-local-inference``;
  nothing is downloaded).

A missing ``OPENAI_API_KEY`` when the STT is another provider's is a warning: the default
``llm_model`` (gpt-4.1) needs it, but a deployment whose assistants all name another model
does not.
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urlsplit

from pydantic import SecretStr

from ..providers import ProviderSettings
from .settings import WorkerSettings

EXIT_FAILED = 1
"""The worker stopped on an error of its own (the message says which)."""
EXIT_SETTINGS = 2
"""A setting is unreadable or a start-up check failed: nothing was registered."""
EXIT_LIVEKIT = 3
"""The worker could not register with LiveKit (unreachable, refused, or too slow to answer)."""

MODELS_TIMEOUT = 120.0
"""Seconds the model check may take (it loads both models in a separate process)."""
_LOAD_MODELS = "import livekit.local_inference as models; models.init_vad(); models.init_eot()"
_URL_SCHEMES = {"ws", "wss", "http", "https"}


@dataclass(frozen=True)
class StartupCheck:
    """What the checks found: problems stop the worker, warnings are printed."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


def livekit_options(forwarded: Sequence[str]) -> dict[str, str]:
    """The LiveKit options given on the command line (``--url``...), by environment name."""
    parser = argparse.ArgumentParser(add_help=False)
    parser.add_argument("--url", dest="LIVEKIT_URL")
    parser.add_argument("--api-key", dest="LIVEKIT_API_KEY")
    parser.add_argument("--api-secret", dest="LIVEKIT_API_SECRET")
    known, _ = parser.parse_known_args(list(forwarded))
    return {name: value for name, value in vars(known).items() if value}


def check_startup(
    settings: WorkerSettings, env: Mapping[str, str], forwarded: Sequence[str] = ()
) -> StartupCheck:
    """Run every start-up check (``forwarded``: the options for the LiveKit CLI)."""
    check = StartupCheck()
    _check_livekit({**env, **livekit_options(forwarded)}, check)
    _check_providers(settings.providers, check)
    folders = {settings.report_dir: "AGENT_REPORT_DIR"}
    folders.setdefault(settings.outbox_path.parent, "AGENT_OUTBOX_PATH")
    for folder, name in folders.items():
        if problem := writable_problem(folder):
            check.problems.append(f"{name}: {problem}")
    if problem := models_problem():
        check.problems.append(problem)
    return check


def _check_livekit(env: Mapping[str, str], check: StartupCheck) -> None:
    for name in ("LIVEKIT_URL", "LIVEKIT_API_KEY", "LIVEKIT_API_SECRET"):
        if not env.get(name, "").strip():
            check.problems.append(f"{name} is not set; the worker needs the LiveKit server")
    url = env.get("LIVEKIT_URL", "").strip()
    if url:
        parts = urlsplit(url)
        if parts.scheme not in _URL_SCHEMES or not parts.hostname:
            check.problems.append(
                "LIVEKIT_URL must be a ws://, wss://, http:// or https:// URL with a host"
            )


def _check_providers(providers: ProviderSettings, check: StartupCheck) -> None:
    stt_keys = {
        "openai": "openai_api_key",
        "cartesia": "cartesia_api_key",
        "elevenlabs": "eleven_api_key",
    }
    stt = f"STT_PROVIDER={providers.stt_provider}"
    _require(providers, stt_keys[providers.stt_provider], stt, check)
    if not _has(providers, "cartesia_api_key") and not _has(providers, "eleven_api_key"):
        check.problems.append(
            "CARTESIA_API_KEY or ELEVEN_API_KEY must be set; every call needs a voice"
        )
    elif not _has(providers, "cartesia_api_key"):
        check.warnings.append(
            "CARTESIA_API_KEY is not set; assistants without a voice (Cartesia's) cannot speak"
        )
    if providers.stt_provider != "openai" and not _has(providers, "openai_api_key"):
        check.warnings.append(
            "OPENAI_API_KEY is not set; assistants without an llm_model (gpt-4.1) cannot run"
        )
    if providers.llm_fallback_model and not (
        _has(providers, "llm_fallback_api_key") or _has(providers, "openai_api_key")
    ):
        check.problems.append(
            "LLM_FALLBACK_API_KEY (or OPENAI_API_KEY) is not set; it is needed for"
            " LLM_FALLBACK_MODEL"
        )
    if providers.tts_fallback_voice:
        provider = providers.tts_fallback_voice.split(":", 1)[0]
        key = "cartesia_api_key" if provider == "cartesia" else "eleven_api_key"
        _require(providers, key, "TTS_FALLBACK_VOICE", check)


def _has(providers: ProviderSettings, name: str) -> bool:
    if name == "openai_api_key" and providers.keyless_openai:
        return True  # a server other than OpenAI's may need no key
    value = getattr(providers, name)
    return bool(value.get_secret_value() if isinstance(value, SecretStr) else value)


def _require(providers: ProviderSettings, name: str, purpose: str, check: StartupCheck) -> None:
    if not _has(providers, name):
        variable = ProviderSettings.model_fields[name].alias
        check.problems.append(f"{variable} is not set; it is needed for {purpose}")


def writable_problem(folder: Path) -> str | None:
    """Why the worker cannot write in ``folder`` (created if missing), or None."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryFile(dir=folder):
            pass
    except OSError as err:
        return f"{folder} is not writable ({err.strerror or type(err).__name__})"
    return None


def models_problem() -> str | None:
    """Why the local VAD and end-of-turn models cannot load, or None.

    They load in a separate process: the worker's main process runs no call and need not keep
    them in memory (each job process loads them while it waits for its job).
    """
    try:
        result = subprocess.run(
            [sys.executable, "-c", _LOAD_MODELS],
            capture_output=True,
            text=True,
            timeout=MODELS_TIMEOUT,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"the local VAD and end-of-turn models did not load within {MODELS_TIMEOUT:g} s"
    if result.returncode != 0:
        lines = result.stderr.strip().splitlines()
        return "the local VAD and end-of-turn models cannot load: " + (
            lines[-1] if lines else f"exit code {result.returncode}"
        )
    return None
