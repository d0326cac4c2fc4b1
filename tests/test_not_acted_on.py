"""Fields the runtime accepts but does not act on yet are reported, never silently ignored."""

from __future__ import annotations

import json
import shutil
import tempfile
from pathlib import Path
from typing import Any

import pytest
from livekit.plugins import cartesia

from agent_runtime.cli import main
from agent_runtime.config.loading import spec_from_document
from agent_runtime.config.not_acted_on import NOT_ACTED_ON
from agent_runtime.replay.clock import run_virtual
from agent_runtime.replay.local_server import serve
from agent_runtime.replay.recorded_call import RecordedCall
from agent_runtime.replay.run import ReplayResult, replay

from .conftest import FIXTURES
from .test_providers import FakeTTSApi

SETTINGS: dict[str, Any] = {
    "scheduled_at": "2026-12-02T09:00:00Z",
    "call_retry_config": {"max_retry_attempts": 5},
    "assistant.call_retry_config": {"allowed_days": ["monday"]},
}
"""One value for each field not acted on yet, keyed by its path from the call object."""


def _document(path: str, value: Any) -> dict[str, Any]:
    call: dict[str, Any] = {"id": "c1", "direction": "inbound", "assistant": {"prompt": "Hi."}}
    owner = call["assistant"] if path.startswith("assistant.") else call
    owner[path.removeprefix("assistant.")] = value
    return {"call": call}


def test_the_table_covers_every_field_tested() -> None:
    assert {field.path for field in NOT_ACTED_ON} == set(SETTINGS)


@pytest.mark.parametrize(("path", "value"), list(SETTINGS.items()))
def test_each_field_not_acted_on_is_reported_at_its_path(path: str, value: Any) -> None:
    spec = spec_from_document(_document(path, value))
    reasons = {w.path: w.reason for w in spec.warnings}
    assert reasons[f"$.call.{path}"].startswith("accepted but not acted on yet: ")


def test_a_config_using_only_what_works_has_no_such_warning() -> None:
    spec = spec_from_document(json.loads((FIXTURES / "calls/order_status/call.json").read_text()))
    assert spec.warnings == ()


def test_a_warm_transfer_config_is_acted_on() -> None:
    warm = {
        "transfer_phone_number": "+442071838750",
        "human_transfer_mode": "warm",
        "warm_transfer_summary_instructions": "Say who calls.",
    }
    call = {"id": "c1", "direction": "inbound", "assistant": {"prompt": "Hi.", **warm}}
    spec = spec_from_document({"call": call})
    assert spec.assistant.transfer_mode == "warm"
    assert [w for w in spec.warnings if "not acted on" in w.reason] == []


def test_check_config_strict_fails_on_a_field_not_acted_on(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "assistant.json"
    retries = {"call_retry_config": {"allowed_days": ["monday"]}}
    path.write_text(json.dumps({"prompt": "Hi.", **retries}))
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning $.call_retry_config: accepted but not acted on yet" in out
    assert main(["check-config", "--strict", str(path)]) == 1


def test_the_voicemail_message_is_not_synthesised_for_an_inbound_call() -> None:
    # an inbound call is not classified, so it never plays the message; the call's voice is
    # the real Cartesia plugin, talking to a local stand-in of its API
    folder = Path(tempfile.mkdtemp(prefix="voicemail-")) / "call"
    shutil.copytree(FIXTURES / "calls/max_duration", folder)
    document = json.loads((folder / "call.json").read_text())
    document["call"]["assistant"]["voicemail_message"] = "Sorry we missed you, call us back."
    (folder / "call.json").write_text(json.dumps(document))
    api = FakeTTSApi()

    async def main_() -> ReplayResult:
        async with serve(api.app) as base:
            voice = cartesia.TTS(api_key="k", base_url=base, model="sonic-3")
            return await replay(RecordedCall.load(folder), inline_inference=True, voice=voice)

    result = run_virtual(main_)
    said = [body["transcript"] for body in api.bodies]
    assert result.call.report.end_reason == "max_duration"
    assert any("Alex from Acme" in text for text in said)  # the greeting was synthesised
    assert not any("missed you" in text for text in said)
