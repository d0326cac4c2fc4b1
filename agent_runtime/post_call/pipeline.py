"""The steps after a call, in order, each recorded in the report.

1. structured output (``structured_output_config``), extracted by the call's text LLM;
2. outcome and its summary, when a person answered and spoke;
3. the after-call SMS (``after_call_sms_prompt``), when a person answered, or the voicemail
   SMS (``voicemail_sms_prompt``), when the call reached a voicemail;
4. the email notification, when the outcome is one of ``email_notification_outcomes``;
5. the recording, uploaded to object storage when configured (``recording_url`` then points
   there);
6. FAQ candidates: questions the caller asked that the assistant could not answer;
7. the signed webhook (``webhook_url``) with the call's results.

Deliveries (3, 4, 5, 7) go into the outbox before their first try, so nothing is lost when a
receiver is down or the process ends; the LLM steps are bounded and never raise. A step that
fails is recorded and the others still run. The report file is written again at the end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from livekit.agents import llm

from ..config.spec import CallSpec
from ..errors import DeliveryError
from ..integrations.settings import IntegrationSettings
from ..integrations.sms_setup import sending_number
from ..report.journal import CallIdentity
from ..report.model import AfterCallSection, AfterCallStep, CallReport, FaqCandidate
from .delivery import Sender
from .email import EmailPayload, compose_notification, send_email
from .extraction import extract
from .faq import faq_candidates
from .llm_json import transcript_text
from .outbox import Outbox
from .outcome import decide_outcome
from .recordings import object_key, recording_url, upload
from .settings import AfterCallSettings
from .sms import send_sms, sms_payload, write_sms
from .webhook import send_webhook, webhook_payload


@dataclass(frozen=True)
class FinishedCall:
    """A call whose report is written, waiting for its after-call steps."""

    spec: CallSpec
    report: CallReport
    report_path: Path | None
    recording_path: Path | None
    model: llm.LLM | llm.RealtimeModel | None
    """The call's LLM, for the steps that ask it (a realtime model cannot: they are skipped)."""


@dataclass
class _Steps:
    done: list[AfterCallStep] = field(default_factory=list)

    def record(self, name: str, status: str, detail: str | None = None) -> None:
        self.done.append(
            AfterCallStep.model_validate({"name": name, "status": status, "detail": detail})
        )


class AfterCall:
    """Runs the steps after one call."""

    def __init__(
        self,
        call: FinishedCall,
        *,
        settings: AfterCallSettings,
        integrations: IntegrationSettings,
        outbox: Outbox,
    ) -> None:
        self._call = call
        self._settings = settings
        self._integrations = integrations
        self._outbox = outbox
        self._steps = _Steps()
        self.queued: list[str] = []
        """The outbox keys of this call's deliveries, once ``run`` has queued them."""
        report = call.report
        self._text_llm = call.model if isinstance(call.model, llm.LLM) else None
        self._transcript = transcript_text(report)
        self._spoke = any(row.role == "user" for row in report.transcript or [])
        self._reached = report.answered_at is not None and report.result == "human"

    async def run(self) -> CallReport:
        """Run every step; the report with their results (written to its file again)."""
        spec, report = self._call.spec, self._call.report
        structured = await self._structured_output()
        outcome, summary = await self._outcome()
        await self._after_call_sms()
        await self._voicemail_sms()
        await self._email(outcome, summary, structured)
        url = await self._recording()
        faq = await self._faq()
        section = AfterCallSection(
            steps=self._steps.done, outcome=outcome, outcome_summary=summary, faq_candidates=faq
        )
        report = report.model_copy(
            update={
                "structured_output": structured,
                "recording_url": url or report.recording_url,
                "runtime": report.runtime.model_copy(update={"after_call": section}),
            }
        )
        report = await self._webhook(spec, report)
        if self._call.report_path is not None:
            await asyncio.to_thread(self._call.report_path.write_text, report.to_json())
        return report

    # -- the steps ----------------------------------------------------------------------------

    async def _structured_output(self) -> dict[str, Any] | None:
        fields = self._call.spec.assistant.structured_output_config
        if not fields:
            return None
        if not self._ready("structured_output"):
            return None
        assert self._text_llm is not None
        result = await extract(
            self._text_llm,
            fields,
            prompt=self._call.spec.assistant.structured_output_prompt,
            variables=self._call.spec.variables,
            transcript=self._transcript,
            timeout=self._settings.llm_timeout,
        )
        if result.data is None:
            self._steps.record("structured_output", "failed", result.problem)
            return None
        self._steps.record("structured_output", "done", f"{len(result.data)} fields")
        return result.data

    async def _outcome(self) -> tuple[Any, str | None]:
        if not self._reached or not self._spoke:
            self._steps.record("outcome", "skipped", "no person answered and spoke")
            return None, None
        if not self._ready("outcome"):
            return None, None
        assert self._text_llm is not None
        result = await decide_outcome(
            self._text_llm, transcript=self._transcript, timeout=self._settings.llm_timeout
        )
        if result.outcome is None:
            self._steps.record("outcome", "failed", result.problem)
            return None, None
        self._steps.record("outcome", "done", result.outcome)
        return result.outcome, result.summary

    async def _after_call_sms(self) -> None:
        prompt = self._call.spec.assistant.after_call_sms_prompt
        if not prompt:
            return
        if not self._reached:
            self._steps.record("after_call_sms", "skipped", "no person answered")
            return
        if self._ready("after_call_sms"):
            await self._sms("after_call_sms", prompt)

    async def _voicemail_sms(self) -> None:
        prompt = self._call.spec.assistant.voicemail_sms_prompt
        if not prompt or self._call.report.result != "voicemail":
            return
        if self._text_llm is None:
            self._steps.record("voicemail_sms", "skipped", "the call has no text LLM to ask")
            return
        await self._sms("voicemail_sms", prompt)

    async def _sms(self, name: str, prompt: str) -> None:
        """Write the message ``prompt`` asks for and queue it, at most once per attempt."""
        spec = self._call.spec
        to = spec.call.user_phone_number
        if to is None or self._integrations.twilio.credentials() is None:
            reason = "no number to text" if to is None else "SMS is not configured (TWILIO_*)"
            self._steps.record(name, "skipped", reason)
            return
        assert self._text_llm is not None
        try:
            sender = sending_number(spec, self._integrations)
            body = await write_sms(
                self._text_llm,
                instructions=spec.render(prompt).text,
                transcript=self._transcript or "(nothing was said)",
                limits=self._integrations.sms_limits,
                timeout=self._settings.llm_timeout,
            )
        except Exception as err:  # the LLM or the sending number: recorded, the rest goes on
            self._steps.record(name, "failed", _reason(err))
            return
        await self._queue(
            name, "sms", sms_payload(to=to, sender=sender, body=body), at_most_once=True
        )

    async def _email(
        self, outcome: Any, summary: str | None, structured: dict[str, Any] | None
    ) -> None:
        assistant = self._call.spec.assistant
        address = assistant.email_notification_address
        if address is None or not assistant.email_notification_outcomes:
            return
        if outcome not in assistant.email_notification_outcomes:
            self._steps.record("email", "skipped", f"the outcome is {outcome or 'unknown'}")
            return
        if not self._settings.email.configured:
            self._steps.record("email", "skipped", "email is not configured (SMTP_*)")
            return
        payload = compose_notification(
            to=address,
            report=self._call.report,
            outcome=outcome,
            summary=summary,
            structured_output=structured,
        )
        await self._queue("email", "email", payload.model_dump())

    async def _recording(self) -> str | None:
        storage = self._settings.recordings
        path = self._call.recording_path
        if not storage.configured or path is None:
            return None
        call = self._call
        key = object_key(storage, call_id=call.spec.call.id, attempt_id=call.report.id)
        try:  # signing first: without credentials to sign with, no upload would work either
            url = await asyncio.to_thread(recording_url, storage, key)
        except DeliveryError as err:
            self._steps.record("recording", "failed", str(err))
            return None
        await self._queue("recording", "upload", {"path": str(path), "key": key})
        return url

    async def _faq(self) -> list[FaqCandidate]:
        if not (self._reached and self._spoke):
            return []  # a voicemail greeting or a menu asks no question of the assistant
        if not self._ready("faq_candidates"):
            return []
        assert self._text_llm is not None
        result = await faq_candidates(
            self._text_llm,
            transcript=self._transcript,
            instructions=self._call.spec.instructions,
            faq=list(self._call.spec.assistant.faq_items),
            timeout=self._settings.llm_timeout,
        )
        if result.problem is not None:
            self._steps.record("faq_candidates", "failed", result.problem)
            return []
        count = len(result.questions)
        self._steps.record("faq_candidates", "done", f"{count} question{'s' * (count != 1)}")
        return [FaqCandidate(question=question) for question in result.questions]

    async def _webhook(self, spec: CallSpec, report: CallReport) -> CallReport:
        url = spec.assistant.webhook_url
        if url is None:
            return report
        section = report.runtime.after_call or AfterCallSection()
        step = AfterCallStep(name="webhook", status="queued")
        report = report.model_copy(
            update={
                "runtime": report.runtime.model_copy(
                    update={
                        "after_call": section.model_copy(update={"steps": [*section.steps, step]})
                    }
                )
            }
        )
        event = call_ended_event(spec, report)
        payload = webhook_payload(url, f"msg_{report.id}", event)
        key = f"webhook:{report.id}"
        await asyncio.to_thread(self._outbox.add, key, "webhook", payload)
        self.queued.append(key)
        return report

    # -- helpers ------------------------------------------------------------------------------

    def _ready(self, name: str) -> bool:
        if self._text_llm is None:
            self._steps.record(name, "skipped", "the call has no text LLM to ask")
            return False
        if not self._transcript.strip():
            self._steps.record(name, "skipped", "nothing was said")
            return False
        return True

    async def _queue(
        self, name: str, kind: str, payload: dict[str, Any], *, at_most_once: bool = False
    ) -> None:
        key = f"{name}:{self._call.report.id}"
        added = await asyncio.to_thread(
            self._outbox.add, key, kind, payload, at_most_once=at_most_once
        )
        self.queued.append(key)
        self._steps.record(name, "queued", None if added else "already queued")


def call_ended_event(spec: CallSpec, report: CallReport) -> dict[str, Any]:
    """The webhook event of an ended call, in the API's own field names."""
    call = spec.call
    return ended_event(CallIdentity(call.id, call.direction, dict(call.metadata)), report)


def ended_event(call: CallIdentity, report: CallReport) -> dict[str, Any]:
    """The webhook event of the call ``call`` that ``report`` reports."""
    after = report.runtime.after_call or AfterCallSection()
    return {
        "type": "call.ended",
        "call": {
            "id": call.id,
            "direction": call.direction,
            "metadata": call.metadata,
            "outcome": after.outcome,
            "outcome_summary": after.outcome_summary,
        },
        "call_attempt": report.to_api_dict(),
        "faq_candidates": [candidate.model_dump() for candidate in after.faq_candidates],
        "runtime": report.runtime.model_dump(mode="json", exclude={"after_call"}),
    }


def senders(settings: AfterCallSettings, integrations: IntegrationSettings) -> dict[str, Sender]:
    """The sender of each kind of delivery that is configured."""
    found: dict[str, Sender] = {}

    async def webhook(payload: dict[str, Any]) -> str:
        return await send_webhook(
            payload, settings=settings.webhook, policy=integrations.http_tools.policy
        )

    found["webhook"] = webhook
    if settings.email.configured:

        async def email(payload: dict[str, Any]) -> str:
            return await send_email(settings.email, EmailPayload.model_validate(payload))

        found["email"] = email
    if settings.recordings.configured:

        async def recording(payload: dict[str, Any]) -> str:
            await upload(settings.recordings, Path(str(payload["path"])), str(payload["key"]))
            return str(payload["key"])

        found["upload"] = recording
    if integrations.twilio.credentials() is not None:

        async def sms(payload: dict[str, Any]) -> str:
            return await send_sms(payload, settings=integrations.twilio)

        found["sms"] = sms
    return found


def _reason(err: Exception) -> str:
    return str(err) if isinstance(err, ValueError) else type(err).__name__
