"""Two-way audio between two rooms: a caller and a supervisor who hear each other.

Self-hosted LiveKit cannot move a participant from one room to another, so a warm transfer
leaves the supervisor in the consultation room and the agent relays the audio: each way, the
phone participant's microphone track in one room is read (``rtc.AudioStream``) and played
through a track the agent publishes in the other room (``rtc.AudioSource``).

Frames pass untouched at 48 kHz, the rate Opus decodes to (no resampling either side), 10 ms
at a time, and the published source has no queue: each frame goes to the encoder as it comes.
A queued source plays in real time and never catches up, so any audio queued when the relay
runs ahead (the event loop stalled, then the stream delivered a burst) would stay as delay for
the rest of the call; unqueued, a burst reaches the far end's jitter buffer, which is made to
absorb it. The relay itself holds no audio.
"""

from __future__ import annotations

import asyncio

from livekit import rtc

from ..log import logger
from .room import unpublish

BRIDGE_SAMPLE_RATE = 48000
FRAME_MS = 10
"""An unqueued source takes 10 ms frames only."""
STREAM_FRAMES = 10
"""Frames an incoming stream keeps while the relay is not reading (older ones are dropped)."""
SOURCE_QUEUE_MS = 0
"""The published source's queue: none (see the module)."""
CALLER_TRACK = "bridge-caller"
"""The track carrying the caller's voice into the consultation room."""
CONSULTED_TRACK = "bridge-consulted"
"""The track carrying the consulted person's voice into the caller's room."""


class TrackRelay:
    """Plays whichever audio track is attached into ``source``, frame by frame, as it comes."""

    def __init__(self, source: rtc.AudioSource) -> None:
        self._source = source
        self._track_sid: str | None = None
        self._task: asyncio.Task[None] | None = None
        self._stopping: set[asyncio.Task[None]] = set()
        self.relayed = 0
        """Frames played into the source so far."""

    @property
    def track_sid(self) -> str | None:
        """The sid of the attached track, if any."""
        return self._track_sid

    def attach(self, track: rtc.Track) -> None:
        """Relay ``track`` from now on (replacing any track attached before)."""
        if track.sid == self._track_sid:
            return
        self.detach()
        stream = rtc.AudioStream.from_track(
            track=track,
            sample_rate=self._source.sample_rate,
            num_channels=self._source.num_channels,
            frame_size_ms=FRAME_MS,
            capacity=STREAM_FRAMES,
        )
        self._track_sid = track.sid
        self._task = asyncio.create_task(self._relay(stream), name="bridge-relay")

    def detach(self) -> None:
        """Stop relaying the attached track (the source then plays silence)."""
        task, self._task, self._track_sid = self._task, None, None
        if task is not None:
            task.cancel()
            self._stopping.add(task)
            task.add_done_callback(self._stopping.discard)

    async def aclose(self) -> None:
        """Stop relaying and close the stream (idempotent); the source stays open."""
        self.detach()
        await asyncio.gather(*self._stopping, return_exceptions=True)

    async def _relay(self, stream: rtc.AudioStream) -> None:
        try:
            async for event in stream:
                await self._source.capture_frame(event.frame)
                self.relayed += 1
        finally:
            await stream.aclose()


def _is_voice(track: rtc.Track, publication: rtc.TrackPublication) -> bool:
    return track.kind == rtc.TrackKind.KIND_AUDIO and publication.source in (
        rtc.TrackSource.SOURCE_MICROPHONE,
        rtc.TrackSource.SOURCE_UNKNOWN,
    )


class RoomRelay:
    """One way of the bridge: ``identity``'s voice in ``from_room`` heard in ``to_room``.

    The voice is followed as its track is subscribed and unsubscribed; ``open`` publishes the
    track named ``track_name`` that carries it in ``to_room``.
    """

    def __init__(
        self, from_room: rtc.Room, identity: str, to_room: rtc.Room, track_name: str
    ) -> None:
        self._from = from_room
        self._identity = identity
        self._to = to_room
        self._track_name = track_name
        self._source = rtc.AudioSource(BRIDGE_SAMPLE_RATE, 1, queue_size_ms=SOURCE_QUEUE_MS)
        self.relay = TrackRelay(self._source)
        """The relay of the followed track (its counters say how much passed)."""
        self._publication: rtc.LocalTrackPublication | None = None
        self._closed = False

    @classmethod
    async def open(
        cls, from_room: rtc.Room, identity: str, to_room: rtc.Room, track_name: str
    ) -> RoomRelay:
        """Publish the carrying track in ``to_room`` and follow ``identity`` in ``from_room``."""
        relay = cls(from_room, identity, to_room, track_name)
        try:
            track = rtc.LocalAudioTrack.create_audio_track(track_name, relay._source)
            options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
            relay._publication = await to_room.local_participant.publish_track(track, options)
            relay._follow()
        except BaseException:
            await relay.aclose()
            raise
        return relay

    async def aclose(self) -> None:
        """Stop following, unpublish and release the track (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._from.off("track_subscribed", self._on_track_subscribed)
        self._from.off("track_unsubscribed", self._on_track_unsubscribed)
        await self.relay.aclose()
        publication, self._publication = self._publication, None
        await unpublish(self._to, publication)
        await self._source.aclose()

    def _follow(self) -> None:
        self._from.on("track_subscribed", self._on_track_subscribed)
        self._from.on("track_unsubscribed", self._on_track_unsubscribed)
        participant = self._from.remote_participants.get(self._identity)
        if participant is None:
            return
        for publication in participant.track_publications.values():
            if publication.track is not None:
                self._on_track_subscribed(publication.track, publication, participant)

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity == self._identity and _is_voice(track, publication):
            self.relay.attach(track)

    def _on_track_unsubscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity == self._identity and track.sid == self.relay.track_sid:
            self.relay.detach()


class AudioBridge:
    """The caller and the consulted person hear each other: one ``RoomRelay`` each way."""

    def __init__(self, to_consulted: RoomRelay, to_caller: RoomRelay) -> None:
        self.to_consulted = to_consulted
        """The caller's voice, into the consultation room."""
        self.to_caller = to_caller
        """The consulted person's voice, into the caller's room."""

    @classmethod
    async def open(
        cls,
        *,
        caller_room: rtc.Room,
        caller_identity: str,
        consult_room: rtc.Room,
        consulted_identity: str,
    ) -> AudioBridge:
        """Start relaying both ways (the tracks are published before this returns)."""
        to_consulted = await RoomRelay.open(
            caller_room, caller_identity, consult_room, CALLER_TRACK
        )
        try:
            to_caller = await RoomRelay.open(
                consult_room, consulted_identity, caller_room, CONSULTED_TRACK
            )
        except BaseException:
            await to_consulted.aclose()
            raise
        return cls(to_consulted, to_caller)

    async def aclose(self) -> None:
        """Stop both ways and release their tracks (idempotent)."""
        try:
            await self.to_consulted.aclose()
        finally:
            await self.to_caller.aclose()
        relays = (self.to_consulted.relay, self.to_caller.relay)
        logger.debug("bridge closed: %d frames relayed", sum(r.relayed for r in relays))
