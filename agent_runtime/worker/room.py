"""The production line of a job: the room's SIP participant and its audio."""

from __future__ import annotations

import asyncio
import time

from livekit import rtc
from livekit.agents import AutoSubscribe, JobContext
from livekit.agents.utils.participant import wait_for_participant_attribute

from ..errors import CallNotRun
from ..media.room import RoomMedia
from ..telephony.livekit import SIP_CALL_STATUS, CallerPresence, sip_participant
from .job import CallLine
from .settings import WorkerSettings


async def connect_room_line(ctx: JobContext, settings: WorkerSettings) -> CallLine:
    """Connect to the room, wait for the SIP participant and open the room media.

    An outbound call is still ringing when its participant joins: the call is answered once its
    ``sip.callStatus`` is ``active``, so the agent never speaks over the ringback.
    """
    await ctx.connect(auto_subscribe=AutoSubscribe.AUDIO_ONLY)
    try:
        caller = await asyncio.wait_for(
            ctx.wait_for_participant(kind=rtc.ParticipantKind.PARTICIPANT_KIND_SIP),
            settings.caller_timeout,
        )
    except TimeoutError:
        raise CallNotRun(
            "caller_not_joined", f"no SIP participant joined within {settings.caller_timeout:g} s"
        ) from None
    status = caller.attributes.get(SIP_CALL_STATUS)
    if status is not None and status != "active":
        try:
            await wait_for_participant_attribute(
                ctx.room, identity=caller.identity, attribute=SIP_CALL_STATUS, value="active"
            )
        except RuntimeError:
            raise CallNotRun(
                "caller_left", "the caller left before the call was answered"
            ) from None
    answered_at = time.time()
    presence = CallerPresence(ctx.room, caller.identity)
    try:
        media = await RoomMedia.open(ctx.room, caller)
    except BaseException:
        presence.close()
        raise

    async def close() -> None:
        presence.close()
        await media.aclose()

    return CallLine(
        media=media,
        participant=sip_participant(caller),
        caller_gone=presence.gone,
        answered_at=answered_at,
        close=close,
    )
