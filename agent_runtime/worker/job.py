"""A worker job's call, from its metadata to its report.

The job reads its call config from the job metadata, builds the providers, connects the line
(room media and the SIP participant in production), runs the call through the ``CallRunner``,
closes what it opened and writes the report under ``<report dir>/<call id>/<attempt id>/``. A
call that cannot run (invalid config, config endpoint down, provider not configured, no
caller) is hung up at once and still gets a report saying why.

``run_call_job`` takes the line and the providers as factories, so tests run it in a fake job
with replayed media and stand-in providers.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import uuid
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from livekit.agents import JobContext, utils

from ..call.ports import CallPorts
from ..call.runner import CallRunner
from ..config.attempt import AttemptStatus
from ..config.loading import parse_json
from ..config.sources import load_job_metadata
from ..config.spec import CallSpec
from ..errors import CallNotRun, ConfigError, ConfigFetchError, ProviderConfigError
from ..log import call_fields, logger
from ..media.ports import MediaPort
from ..observability.metrics import call_ended
from ..observability.traces import configure_tracing, flush_traces
from ..post_call.delivery import Deliverer
from ..post_call.outbox import Outbox
from ..post_call.pipeline import AfterCall, FinishedCall, senders
from ..post_call.status_events import StatusEvents
from ..providers import Providers
from ..report.model import CallEvent, CallReport, RuntimeSection
from ..telephony.livekit import LiveKitTelephony, OutboundDial, delete_room
from ..telephony.livekit_consult import (
    ConsultDialing,
    LiveKitConsultations,
    LiveKitRoomConnector,
)
from ..telephony.port import SipParticipant
from .settings import WorkerSettings


@dataclass(frozen=True)
class CallLine:
    """A connected call: its media, its SIP participant, and the signal that it hung up."""

    media: MediaPort
    participant: SipParticipant
    caller_gone: asyncio.Event
    answered_at: float | None
    """Wall time at which an inbound call was answered (``sip.callStatus`` active)."""
    close: Callable[[], Awaitable[None]]
    """Releases the media (called once, after the call)."""
    dial: OutboundDial | None = None
    """An outbound call: the callee to dial, when the runner asks for the answer."""


LineFactory = Callable[[JobContext, WorkerSettings, CallSpec], Awaitable[CallLine]]
"""Connects a job's call: room media in production, replayed media in tests."""
ProvidersFactory = Callable[[CallSpec], Providers]
"""Builds a call's providers; raises ``ProviderConfigError`` when it cannot."""


@dataclass(frozen=True)
class JobOutcome:
    """The report of a job's call, where it was written, and what its after-call steps need."""

    report: CallReport
    report_path: Path | None
    finished: FinishedCall | None = None
    """The call, for its after-call steps (None when its config could not even be read)."""
    providers: Providers | None = None
    """The call's providers, still open for the after-call steps: ``finish_call_job`` closes
    them."""


AFTER_CALL_BUDGET = 120.0
"""Seconds the job tries the deliveries itself; the worker's delivery loop does the rest."""


async def run_call_job(
    ctx: JobContext,
    settings: WorkerSettings,
    *,
    connect_line: LineFactory,
    make_providers: ProvidersFactory,
) -> JobOutcome:
    """Run the call of ``ctx`` to its end, write its report, and end the job.

    The after-call steps come next, in ``finish_call_job`` (the worker runs it once the job's
    room is gone, in its ``on_session_end``, which may take longer than the job itself).
    """
    started = time.time()
    attempt_id = f"att_{uuid.uuid4().hex[:16]}"
    configure_tracing(settings.observability.traces)
    # the framework stamps these on every line of the job process, ours on the runtime's lines
    fields = ctx.log_context_fields
    fields["attempt_id"] = attempt_id
    if (call_id := _call_id_hint(ctx.job.metadata)) is not None:
        fields["call_id"] = call_id
    with call_fields(fields):
        async with utils.http_context.open():
            spec: CallSpec | None = None
            providers: Providers | None = None
            try:
                spec = await _load_spec(ctx, settings)
                fields["call_id"] = spec.call.id
                providers = _providers(make_providers, spec)
                outcome = await _run_on_line(
                    ctx, settings, spec, providers, connect_line, attempt_id, started
                )
            except CallNotRun as failure:
                outcome = await _not_run(ctx, settings, failure, spec, attempt_id, started)
            except BaseException:
                if providers is not None:
                    await providers.aclose()
                raise
        _log_summary(outcome)
    ctx.shutdown(reason="call ended")
    return replace(outcome, providers=providers)


async def finish_call_job(outcome: JobOutcome, settings: WorkerSettings) -> JobOutcome:
    """Run the after-call steps of the job's call, try its deliveries, close its providers.

    Deliveries not made within ``AFTER_CALL_BUDGET`` stay in the outbox for the worker's
    delivery loop (or the next worker to start).
    """
    fields: dict[str, object] = {
        "call_id": outcome.report.runtime.call_id,
        "attempt_id": outcome.report.id,
    }
    with call_fields(fields):
        return await _after_call(outcome, settings)


async def _after_call(outcome: JobOutcome, settings: WorkerSettings) -> JobOutcome:
    try:
        if outcome.finished is None:
            return outcome
        outbox = Outbox(settings.outbox_path)
        try:
            after_call = AfterCall(
                outcome.finished,
                settings=settings.after_call,
                integrations=settings.integrations,
                outbox=outbox,
            )
            report = await after_call.run()
            deliverer = Deliverer(outbox, senders(settings.after_call, settings.integrations))
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(AFTER_CALL_BUDGET):
                    await deliverer.deliver_due(keys=after_call.queued)
        finally:
            outbox.close()
        return replace(outcome, report=report)
    finally:
        if outcome.providers is not None:
            await outcome.providers.aclose()
        await asyncio.to_thread(flush_traces)  # the process may end right after


async def _run_on_line(
    ctx: JobContext,
    settings: WorkerSettings,
    spec: CallSpec,
    providers: Providers,
    connect_line: LineFactory,
    attempt_id: str,
    started: float,
) -> JobOutcome:
    line = await _connect(connect_line, ctx, settings, spec)
    status_url = _status_url(settings, spec)
    outbox: Outbox | None = None
    status_events: StatusEvents | None = None
    if status_url is not None:  # the outbox is opened only to queue them
        outbox = Outbox(settings.outbox_path)
        status_events = StatusEvents(
            outbox,
            url=status_url,
            call_id=spec.call.id,
            attempt_id=attempt_id,
            settings=settings.after_call.webhook,
            policy=settings.integrations.http_tools.policy,
        )

    def on_status(status: AttemptStatus) -> None:
        logger.info("call %s: %s", spec.call.id, status)
        if status_events is not None:
            status_events.publish(status)

    try:
        telephony = LiveKitTelephony(
            ctx.api,
            room=ctx.room,
            room_name=ctx.job.room.name,
            participant=line.participant,
            caller_gone=line.caller_gone,
            answered_at=line.answered_at,
            dial=line.dial,
            consultations=_consultations(ctx, settings, line),
        )
        options = settings.call.run_options(
            output_dir=_attempt_dir(settings, spec.call.id, attempt_id),
            attempt_id=attempt_id,
            started_at=started,
            on_status=on_status,
        )
        ports = CallPorts(line.media, telephony, settings.integrations)
        result = await CallRunner(spec, providers, ports, options).run()
    finally:
        await line.close()
        if status_events is not None:
            await status_events.aclose()
        if outbox is not None:
            outbox.close()
    finished = FinishedCall(
        spec, result.report, result.report_path, result.recording_path, providers.llm
    )
    return JobOutcome(result.report, result.report_path, finished)


def consult_dialing(
    settings: WorkerSettings, dial: OutboundDial | None, participant: SipParticipant
) -> ConsultDialing | None:
    """How the call dials warm transfers: from its own number, on that number's trunk.

    An outbound call uses its own trunk and caller id; an inbound call the number the caller
    dialled and its trunk (``trunk_for``). None without an outbound trunk.
    """
    if dial is not None:
        return ConsultDialing(dial.trunk_id, dial.from_number)
    our_number = participant.trunk_phone_number
    trunk = settings.telephony.trunk_for(our_number)
    return None if trunk is None else ConsultDialing(trunk, our_number)


def _consultations(
    ctx: JobContext, settings: WorkerSettings, line: CallLine
) -> LiveKitConsultations | None:
    dialing = consult_dialing(settings, line.dial, line.participant)
    if dialing is None:
        return None  # ``consult`` then refuses
    return LiveKitConsultations(
        ctx.api,
        call_room=ctx.job.room.name,
        dialing=dialing,
        connector=LiveKitRoomConnector(os.environ),
    )


def _status_url(settings: WorkerSettings, spec: CallSpec) -> str | None:
    """Where the call's status events go; None when they are not sent."""
    url = spec.assistant.webhook_url
    if url is None or not settings.after_call.webhook.status_events:
        return None
    return url


async def _load_spec(ctx: JobContext, settings: WorkerSettings) -> CallSpec:
    try:
        return await load_job_metadata(ctx.job.metadata, settings.config_endpoint)
    except ConfigError as err:
        raise CallNotRun("invalid_config", str(err)) from None
    except ConfigFetchError as err:
        raise CallNotRun("config_unavailable", str(err)) from None


def _providers(make_providers: ProvidersFactory, spec: CallSpec) -> Providers:
    try:
        return make_providers(spec)
    except ProviderConfigError as err:
        raise CallNotRun("provider_unavailable", str(err)) from None


async def _connect(
    connect_line: LineFactory, ctx: JobContext, settings: WorkerSettings, spec: CallSpec
) -> CallLine:
    try:
        return await connect_line(ctx, settings, spec)
    except CallNotRun:
        raise
    except Exception as err:
        logger.exception("could not connect the call")
        raise CallNotRun(
            "media_unavailable", f"the room media failed: {type(err).__name__}"
        ) from None


async def _not_run(
    ctx: JobContext,
    settings: WorkerSettings,
    failure: CallNotRun,
    spec: CallSpec | None,
    attempt_id: str,
    started: float,
) -> JobOutcome:
    """Hang up a call that cannot run and write the report that says why."""
    events: list[CallEvent] = []
    warnings: list[str] = []
    try:
        await delete_room(ctx.api, ctx.job.room.name)
        events.append(CallEvent(type="hung_up", at=round(time.time() - started, 3)))
    except Exception as err:
        warnings.append(f"hang up failed: {type(err).__name__}")
    call_id = spec.call.id if spec is not None else _call_id_hint(ctx.job.metadata)
    report = failure_report(
        spec,
        call_id=call_id,
        attempt_id=attempt_id,
        started_at=started,
        end_reason=failure.end_reason,
        error=str(failure),
        events=events,
        warnings=warnings,
    )
    folder = _attempt_dir(settings, call_id or f"job-{ctx.job.id}", attempt_id)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "report.json"
    path.write_text(report.to_json())
    call_ended(report)
    logger.warning("call %s not run (%s): %s", call_id or "-", failure.end_reason, failure)
    finished = None if spec is None else FinishedCall(spec, report, path, None, None)
    return JobOutcome(report, path, finished)


def failure_report(
    spec: CallSpec | None,
    *,
    call_id: str | None,
    attempt_id: str,
    started_at: float,
    end_reason: str,
    error: str,
    events: list[CallEvent],
    warnings: list[str],
) -> CallReport:
    """The report of a call that ended before it began: ended by the system, with the error."""
    ended_at = time.time()
    call = spec.call if spec is not None else None
    return CallReport(
        id=attempt_id,
        phone_number=call.user_phone_number if call is not None else None,
        started_at=datetime.fromtimestamp(started_at, tz=UTC),
        ended_at=datetime.fromtimestamp(ended_at, tz=UTC),
        status="error",
        ended_by="system",
        end_reason=end_reason,
        transcript=[],
        runtime=RuntimeSection(
            call_id=call_id,
            assistant_id=call.assistant.id if call is not None else None,
            direction=call.direction if call is not None else None,
            duration=round(ended_at - started_at, 3),
            warnings=[*(str(w) for w in spec.warnings), *warnings]
            if spec is not None
            else warnings,
            events=events,
            error=error,
        ),
    )


def _call_id_hint(metadata: str) -> str | None:
    """The call id a metadata document names, even when the document is invalid."""
    try:
        document = parse_json(metadata, source="job metadata")
    except ConfigError:
        return None
    if not isinstance(document, dict):
        return None
    call = document.get("call")
    candidates = [
        document.get("call_id"),
        call.get("id") if isinstance(call, dict) else None,
        document.get("id") if "assistant" in document else None,
    ]
    return next((c for c in candidates if isinstance(c, str) and c.strip()), None)


def _attempt_dir(settings: WorkerSettings, call_id: str, attempt_id: str) -> Path:
    """Where one attempt's report and recording go: a second attempt never overwrites it."""
    return settings.report_dir / _safe_name(call_id) / _safe_name(attempt_id)


def _safe_name(name: str) -> str:
    """``name`` as a single, harmless folder name."""
    return re.sub(r"[^A-Za-z0-9._-]", "_", name).lstrip(".") or "call"


def _log_summary(outcome: JobOutcome) -> None:
    """One INFO line per call: no phone number, transcript or secret."""
    report = outcome.report
    turns = sum(1 for row in report.transcript or [] if row.role == "user")
    logger.info(
        "call %s ended: status=%s ended_by=%s end_reason=%s duration=%ss caller_turns=%d report=%s",
        report.runtime.call_id or "-",
        report.status,
        report.ended_by,
        report.end_reason,
        report.runtime.duration,
        turns,
        outcome.report_path,
    )
