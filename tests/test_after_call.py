"""After the call, end to end: a recorded call replays with every after-call step.

The LLM's after-call answers are recorded (``offers_tool``); the webhook receiver and Twilio
answer from ``http.json`` on a local server, and the webhook is verified with the
``standardwebhooks`` library as a receiver would; the email goes to a real SMTP server
(``aiosmtpd``) and the recording to a real S3-compatible server (``moto``).
"""

from __future__ import annotations

import json
import shutil
import urllib.request
from collections.abc import Callable
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
from standardwebhooks import Webhook

from agent_runtime.replay.run import ReplayResult, run_replay

from .conftest import FIXTURES
from .test_post_call_email import Mailbox, mailbox, smtp_port  # noqa: F401  (fixtures)
from .test_post_call_recordings import (  # noqa: F401  (fixtures)
    KEY_ID,
    SECRET,
    _offline_aws,
    _s3,
    bucket,
    endpoint,
)

pytestmark = pytest.mark.replay

FULL = FIXTURES / "calls" / "after_call_full"
WEBHOOK_SECRET = json.loads((FULL / "env.json").read_text())["WEBHOOK_SIGNING_SECRET"]


def _copy(tmp_path: Path, folder: Path, **changes: Callable[[dict[str, Any]], None]) -> Path:
    copy = tmp_path / folder.name
    shutil.copytree(folder, copy)
    for name, change in changes.items():
        path = copy / f"{name}.json"
        data = json.loads(path.read_text()) if path.exists() else {}
        change(data)
        path.write_text(json.dumps(data))
    return copy


def _webhooks(result: ReplayResult) -> list[Any]:
    """The webhook events the receiver got, each verified as a receiver would."""
    hooks = [r for r in result.http_requests if r.path_qs == "/calls"]
    return [Webhook(WEBHOOK_SECRET).verify(r.body, r.headers) for r in hooks]


def test_every_after_call_step_runs_and_every_delivery_arrives(
    tmp_path: Path,
    mailbox: Mailbox,  # noqa: F811  (the fixtures imported above)
    smtp_port: int,  # noqa: F811
    endpoint: str,  # noqa: F811
    bucket: str,  # noqa: F811
) -> None:
    env = {
        "SMTP_HOST": "127.0.0.1",
        "SMTP_PORT": str(smtp_port),
        "SMTP_FROM": "calls@acme.example",
        "SMTP_SECURITY": "none",
        "RECORDINGS_S3_BUCKET": bucket,
        "RECORDINGS_S3_ENDPOINT_URL": endpoint,
        "RECORDINGS_S3_ACCESS_KEY_ID": KEY_ID,
        "RECORDINGS_S3_SECRET_ACCESS_KEY": SECRET,
    }
    result = run_replay(FULL, fast=True, output_dir=tmp_path / "out", env=env)
    report = result.call.report
    after = report.runtime.after_call
    assert after is not None
    assert [(s.name, s.status) for s in after.steps] == [
        ("structured_output", "done"),
        ("outcome", "done"),
        ("after_call_sms", "queued"),
        ("email", "queued"),
        ("recording", "queued"),
        ("faq_candidates", "done"),
        ("webhook", "queued"),
    ]
    # 1. structured output, validated against the config's fields
    assert report.structured_output == {"budget": 50, "plan": "premium", "callback_date": None}
    # 2. outcome and its summary
    assert after.outcome == "interested" and "premium plan" in (after.outcome_summary or "")
    # 3. the SMS stand-in got one message, to the caller, written by the LLM
    (sms,) = [r for r in result.http_requests if r.path_qs.endswith("/Messages.json")]
    assert b"To=%2B14155550123" in sms.body and b"acme.example%2Fpremium" in sms.body
    # 4. the email arrived at the SMTP server
    message = mailbox.received()
    assert message["To"] == "ops@acme.example" and "interested" in message["Subject"]
    assert "budget: 50" in message.get_content()
    # 5. the recording is in the bucket, and recording_url gives it back
    with closing(_s3(endpoint)) as s3:
        (stored,) = s3.list_objects_v2(Bucket=bucket)["Contents"]
        assert stored["Key"] == f"recordings/call_after_call_full/{report.id}.wav"
    recorded = (tmp_path / "out" / "recording.wav").read_bytes()
    assert report.recording_url is not None and report.recording_url.startswith(endpoint)
    with urllib.request.urlopen(report.recording_url) as answer:  # noqa: S310  (loopback)
        assert answer.read() == recorded
    # 6. FAQ candidates
    assert [c.question for c in after.faq_candidates] == ["Do you ship to Canada?"]
    # 7. the webhook: signed, in the API's field names, with every result
    (event,) = _webhooks(result)
    assert event["type"] == "call.ended"
    assert event["call"]["id"] == "call_after_call_full"
    assert event["call"]["outcome"] == "interested"
    attempt = event["call_attempt"]
    assert attempt["id"] == report.id and attempt["status"] == "completed"
    assert attempt["structured_output"]["budget"] == 50
    assert attempt["recording_url"] == report.recording_url
    assert event["faq_candidates"][0]["needs_human_answer"] is True
    # the report on disk holds all of it
    saved = json.loads((tmp_path / "out" / "report.json").read_text())
    assert saved["runtime"]["after_call"]["outcome"] == "interested"
    assert len(result.after_call_requests) == 4  # extraction, outcome, SMS text, FAQ


def test_a_call_that_reached_nobody_gets_no_outcome_and_no_sms(tmp_path: Path) -> None:
    def configure(call: dict[str, Any]) -> None:
        assistant = call["call"]["assistant"]
        assistant["after_call_sms_prompt"] = "Thank them."
        assistant["webhook_url"] = "https://hooks.acme.example/calls"

    def receiver(http: dict[str, Any]) -> None:
        http["answers"] = [{"method": "POST", "url": "https://hooks.acme.example/calls"}]

    def secret(env: dict[str, Any]) -> None:
        env.update({"WEBHOOK_SIGNING_SECRET": WEBHOOK_SECRET, "TWILIO_ACCOUNT_SID": "AC1"})
        env["TWILIO_AUTH_TOKEN"] = "t"

    folder = _copy(
        tmp_path,
        FIXTURES / "calls" / "outbound_busy",
        call=configure,
        http=receiver,
        env=secret,
    )
    result = run_replay(folder, fast=True)
    after = result.call.report.runtime.after_call
    assert after is not None
    steps = {s.name: (s.status, s.detail) for s in after.steps}
    assert steps["outcome"] == ("skipped", "no person answered and spoke")
    assert steps["after_call_sms"] == ("skipped", "no person answered")
    assert after.outcome is None and result.after_call_requests == []
    (event,) = _webhooks(result)
    assert event["call_attempt"]["dial_error"] == "busy"
    assert not [r for r in result.http_requests if "Messages" in r.path_qs]


def test_an_extraction_that_stays_invalid_fails_alone(tmp_path: Path) -> None:
    def bad_extraction(llm: dict[str, Any]) -> None:
        for answer in llm["answers"]:
            if answer["when"].get("offers_tool") == "save_extracted_data":
                answer["tool_calls"][0]["arguments"] = {"budget": "about fifty", "plan": "gold"}

    folder = _copy(tmp_path, FULL, llm=bad_extraction)
    result = run_replay(folder, fast=True)
    report = result.call.report
    after = report.runtime.after_call
    assert after is not None
    steps = {s.name: (s.status, s.detail or "") for s in after.steps}
    assert steps["structured_output"][0] == "failed" and "budget" in steps["structured_output"][1]
    assert report.structured_output is None
    assert steps["outcome"] == ("done", "interested")  # the other steps still ran
    assert steps["webhook"][0] == "queued"
    extraction = [r for r in result.after_call_requests if "save_extracted_data" in r.tool_names]
    assert len(extraction) == 2  # one corrective retry, then no more
    (event,) = _webhooks(result)
    assert event["call_attempt"]["structured_output"] is None


def test_a_recording_that_cannot_be_signed_fails_alone(
    tmp_path: Path,
    endpoint: str,  # noqa: F811  (the fixtures imported above)
    bucket: str,  # noqa: F811
) -> None:
    # storage configured, but no credentials anywhere (the fixture hides this machine's AWS set-up)
    env = {"RECORDINGS_S3_BUCKET": bucket, "RECORDINGS_S3_ENDPOINT_URL": endpoint}
    result = run_replay(FULL, fast=True, output_dir=tmp_path / "out", env=env)
    report = result.call.report
    after = report.runtime.after_call
    assert after is not None
    steps = {s.name: (s.status, s.detail) for s in after.steps}
    status, detail = steps["recording"]
    assert status == "failed" and "cannot be signed (NoCredentialsError)" in (detail or "")
    assert steps["faq_candidates"][0] == "done" and steps["webhook"][0] == "queued"
    assert report.recording_url is not None and report.recording_url.startswith("file:")
    (event,) = _webhooks(result)  # the rest of the run went on
    assert event["call_attempt"]["recording_url"] == report.recording_url
