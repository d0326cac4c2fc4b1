"""Settings are read from the environment once, at the edge; a bad value names its variable."""

from __future__ import annotations

import argparse
import json
import shutil
from pathlib import Path

import pytest

from agent_runtime.cli import main
from agent_runtime.commands import worker as worker_command
from agent_runtime.errors import SettingsError
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.providers import ProviderSettings
from agent_runtime.worker.settings import WorkerSettings

from .conftest import FIXTURES


def test_every_bad_value_is_named_by_its_variable() -> None:
    env = {
        "HTTP_TOOLS_TIMEOUT": "soon",
        "SMS_MAX_PER_CALL": "-1",
        "CALENDLY_MAX_WINDOW_DAYS": "90",
        "STT_PROVIDER": "whisper",
        "AGENT_REPORT_DIR": "/tmp/reports",
    }
    with pytest.raises(SettingsError) as caught:
        WorkerSettings.from_env(env)
    named = {problem.path for problem in caught.value.problems}
    assert named == {
        "HTTP_TOOLS_TIMEOUT",
        "SMS_MAX_PER_CALL",
        "CALENDLY_MAX_WINDOW_DAYS",
        "STT_PROVIDER",
    }
    assert "HTTP_TOOLS_TIMEOUT: must be a valid number" in str(caught.value)
    assert "soon" not in str(caught.value)  # values are never echoed: they may be secrets


def test_unset_and_empty_variables_take_the_defaults() -> None:
    settings = WorkerSettings.from_env({"HTTP_TOOLS_TIMEOUT": "", "TWILIO_BASE_URL": " "})
    assert settings.integrations.http_tools.timeout == 10.0
    assert settings.integrations.twilio.base_url == "https://api.twilio.com"
    assert settings.call.recovery_line  # a default line is said
    silent = WorkerSettings.from_env({"AGENT_RECOVERY_LINE": ""})
    assert silent.call.recovery_line == ""  # an empty line: say nothing


def test_secrets_never_show_in_a_repr() -> None:
    env = {"OPENAI_API_KEY": "sk-live-123456", "TWILIO_AUTH_TOKEN": "tw-secret-987"}
    providers = ProviderSettings.from_env(env)
    integrations = IntegrationSettings.from_env(env)
    shown = repr(providers) + repr(integrations) + str(WorkerSettings.from_env(env))
    assert "sk-live-123456" not in shown and "tw-secret-987" not in shown
    assert providers.require("openai_api_key", "the LLM") == "sk-live-123456"


def test_the_worker_refuses_to_start_with_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_CALLER_TIMEOUT", "forever")
    args = argparse.Namespace(mode="start", livekit_args=[])
    assert worker_command.run(args) == 2
    assert "AGENT_CALLER_TIMEOUT: must be a valid number" in capsys.readouterr().err


def test_the_console_refuses_a_bad_value(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("AGENT_MIN_ENDPOINTING_DELAY", "12")
    config = FIXTURES / "calls" / "order_status" / "call.json"
    assert main(["console", "--call", str(config), "--text"]) == 1
    err = capsys.readouterr().err
    assert "AGENT_MIN_ENDPOINTING_DELAY: must be less than or equal to 10" in err
    assert "Traceback" not in err


def test_a_replay_with_a_bad_recorded_setting_names_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    folder = tmp_path / "call"
    shutil.copytree(FIXTURES / "calls" / "sms_link", folder)
    env = json.loads((folder / "env.json").read_text())
    (folder / "env.json").write_text(json.dumps({**env, "SMS_MAX_SEGMENTS": "many"}))
    assert main(["replay", str(folder), "--fast", "--out", str(tmp_path / "out")]) == 1
    err = capsys.readouterr().err
    assert "SMS_MAX_SEGMENTS: must be a valid integer" in err
    assert "Traceback" not in err
