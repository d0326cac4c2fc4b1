"""The production line of a job: the room, its SIP participant, and its audio.

- Inbound: the caller's SIP participant is already dialled in; the job waits, bounded, for it to
  join and for its call to be answered (``sip.callStatus`` active), then opens the media.
- Outbound: the job opens the media first (the agent is in the room before the callee), and
  the telephony port dials the callee when the runner asks for the answer.
"""

from __future__ import annotations

import asyncio
import time

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext

from ..config.spec import CallSpec
from ..errors import CallNotRun
from ..media.room import RoomMedia
from ..telephony.livekit import SIP_CALL_STATUS, CallerPresence, OutboundDial, sip_participant
from ..telephony.port import SipParticipant
from .job import CallLine
from .settings import WorkerSettings

CALLEE_IDENTITY = "callee"
"""The participant identity an outbound call's callee gets in its room."""


async def wait_for_answered_caller(room: rtc.Room, *, within: float) -> SipParticipant:
    """The room's SIP participant once its call is answered, within ``within`` seconds.

    A participant without ``sip.callStatus`` counts as answered. Raises ``CallNotRun`` when
    none is answered in time (``caller_not_joined``) or the caller leaves first
    (``caller_left``).
    """
    answered: asyncio.Future[rtc.Participant] = asyncio.get_running_loop().create_future()

    def check(participant: rtc.Participant) -> None:
        if participant.kind != rtc.ParticipantKind.PARTICIPANT_KIND_SIP or answered.done():
            return
        if participant.attributes.get(SIP_CALL_STATUS, "active") == "active":
            answered.set_result(participant)

    def on_attributes(changed: object, participant: rtc.Participant) -> None:
        check(participant)

    def on_left(participant: rtc.Participant) -> None:
        if participant.kind == rtc.ParticipantKind.PARTICIPANT_KIND_SIP and not answered.done():
            answered.set_exception(
                CallNotRun("caller_left", "the caller left before the call was answered")
            )

    room.on("participant_connected", check)
    room.on("participant_attributes_changed", on_attributes)
    room.on("participant_disconnected", on_left)
    try:
        for participant in list(room.remote_participants.values()):
            check(participant)
        return sip_participant(await asyncio.wait_for(answered, within))
    except TimeoutError:
        raise CallNotRun(
            "caller_not_joined", f"no answered SIP participant within {within:g} s"
        ) from None
    finally:
        room.off("participant_connected", check)
        room.off("participant_attributes_changed", on_attributes)
        room.off("participant_disconnected", on_left)


async def connect_room_line(ctx: JobContext, settings: WorkerSettings, spec: CallSpec) -> CallLine:
    """Connect to the room and open the call's line (see the module docstring)."""
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    if spec.call.direction == "outbound":
        return await _outbound_line(ctx, settings, spec)
    caller = await wait_for_answered_caller(ctx.room, within=settings.caller_timeout)
    return await _line(ctx.room, caller, answered_at=time.time(), dial=None)


def outbound_dial(settings: WorkerSettings, spec: CallSpec) -> OutboundDial:
    """What to dial for ``spec``'s outbound call; ``CallNotRun`` when it cannot be placed.

    The caller id is the assistant's ``from_phone_number``, else the call's, else the trunk's
    default; the trunk is the one ``LIVEKIT_SIP_OUTBOUND_TRUNKS`` names for that number, else
    ``LIVEKIT_SIP_OUTBOUND_TRUNK``.
    """
    to = spec.call.to_phone_number
    if to is None:
        raise CallNotRun("invalid_config", "the outbound call has no valid to_phone_number")
    from_number = spec.assistant.from_phone_number or spec.call.from_phone_number
    trunk = settings.telephony.trunk_for(from_number)
    if trunk is None:
        raise CallNotRun(
            "telephony_unavailable",
            "no outbound trunk: set LIVEKIT_SIP_OUTBOUND_TRUNK (or LIVEKIT_SIP_OUTBOUND_TRUNKS)",
        )
    return OutboundDial(
        trunk_id=trunk,
        to=to,
        from_number=from_number,
        identity=CALLEE_IDENTITY,
        ringing_timeout=settings.telephony.ringing_timeout,
    )


async def _outbound_line(ctx: JobContext, settings: WorkerSettings, spec: CallSpec) -> CallLine:
    dial = outbound_dial(settings, spec)
    callee = SipParticipant(dial.identity, dial.from_number)
    return await _line(ctx.room, callee, answered_at=None, dial=dial)


async def _line(
    room: rtc.Room,
    caller: SipParticipant,
    *,
    answered_at: float | None,
    dial: OutboundDial | None,
) -> CallLine:
    """The line of ``caller``: who is present, and the media.

    An outbound callee is not in the room yet: the media does not wait for them.
    """
    presence = CallerPresence(room, caller.identity, joined=dial is None)
    try:
        media = await RoomMedia.open(room, caller.identity, wait_for_subscriber=dial is None)
    except BaseException:
        presence.close()
        raise

    async def close() -> None:
        presence.close()
        await media.aclose()

    return CallLine(
        media=media,
        participant=caller,
        caller_gone=presence.gone,
        answered_at=answered_at,
        dial=dial,
        close=close,
    )
