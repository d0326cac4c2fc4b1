"""The ``MediaPort`` of a call in a LiveKit room.

The caller's voice comes from the SIP participant's audio track; what the caller hears goes out
through one track the agent publishes (an ``rtc.AudioSource``). The caller audio never ends
while the call lasts: before the track is subscribed, between tracks, or when the network
stalls, silence is delivered, so voice activity detection always sees the end of speech.
"""

from __future__ import annotations

import asyncio
import contextlib

from livekit import rtc
from livekit.agents.voice import io

from ..log import logger

CALLER_SAMPLE_RATE = 16000
OUTPUT_SAMPLE_RATE = 24000
"""Rate of the call's output stream: what the published track carries."""
"""Rate of the caller audio handed to the session (the VAD and end-of-turn models run at 16 kHz)."""
FRAME_MS = 20
SILENCE_AFTER = 0.1
"""Seconds without caller audio after which that much silence is delivered instead."""
QUEUE_FRAMES = 50
"""Caller frames kept while the session is not reading (older ones are dropped)."""
OUTPUT_QUEUE_MS = 200
"""Audio buffered in the published source, ahead of the network."""
SUBSCRIBE_TIMEOUT = 10.0
"""How long the agent's track waits for the caller to subscribe before speaking anyway."""
UNPUBLISH_TIMEOUT = 2.0
TRACK_NAME = "agent-voice"


async def unpublish(room: rtc.Room, publication: rtc.LocalTrackPublication | None) -> None:
    """Unpublish the agent's ``publication`` from ``room`` if it still can (never raises)."""
    if publication is None or not room.isconnected():
        return
    try:
        await asyncio.wait_for(
            room.local_participant.unpublish_track(publication.sid), UNPUBLISH_TIMEOUT
        )
    except Exception as err:
        logger.debug("could not unpublish track %s: %s", publication.name, type(err).__name__)


def _silence(seconds: float, sample_rate: int) -> rtc.AudioFrame:
    samples = max(1, int(seconds * sample_rate))
    return rtc.AudioFrame(bytes(samples * 2), sample_rate, 1, samples)


class TrackAudioInput(io.AudioInput):
    """Caller audio from whichever audio track is attached, silence when there is none."""

    def __init__(self, *, sample_rate: int = CALLER_SAMPLE_RATE) -> None:
        super().__init__(label="TrackAudioInput")
        self._rate = sample_rate
        self._stream: rtc.AudioStream | None = None
        self._track_sid: str | None = None
        self._closing: set[asyncio.Task[None]] = set()
        self._closed = False

    @property
    def track_sid(self) -> str | None:
        """The sid of the attached track, if any."""
        return self._track_sid

    def attach(self, track: rtc.Track) -> None:
        """Read the caller's audio from ``track`` (replacing any track attached before)."""
        if self._closed or track.sid == self._track_sid:
            return
        self.detach()
        self._stream = rtc.AudioStream.from_track(
            track=track,
            sample_rate=self._rate,
            num_channels=1,
            frame_size_ms=FRAME_MS,
            capacity=QUEUE_FRAMES,
        )
        self._track_sid = track.sid

    def detach(self) -> None:
        """Stop reading the attached track; silence follows."""
        stream, self._stream, self._track_sid = self._stream, None, None
        if stream is not None:
            task = asyncio.create_task(stream.aclose(), name="close-caller-stream")
            self._closing.add(task)
            task.add_done_callback(self._closing.discard)

    async def __anext__(self) -> rtc.AudioFrame:
        if self._closed:
            raise StopAsyncIteration
        stream = self._stream
        if stream is None:
            await asyncio.sleep(FRAME_MS / 1000)
            return _silence(FRAME_MS / 1000, self._rate)
        try:
            event = await asyncio.wait_for(anext(stream), SILENCE_AFTER)
        except TimeoutError:
            return _silence(SILENCE_AFTER, self._rate)
        except StopAsyncIteration:
            if self._stream is stream:
                self.detach()
            return _silence(FRAME_MS / 1000, self._rate)
        return event.frame

    async def aclose(self) -> None:
        """Close the stream; the input then ends (idempotent)."""
        self.detach()
        self._closed = True
        await asyncio.gather(*self._closing, return_exceptions=True)


class AudioSourceSink:
    """A ``FrameSink`` that plays frames through an ``rtc.AudioSource``."""

    def __init__(self, source: rtc.AudioSource) -> None:
        self._source = source

    async def write(self, frame: rtc.AudioFrame) -> None:
        """Queue ``frame`` on the source (waits while the source's queue is full)."""
        await self._source.capture_frame(frame)

    async def wait_for_playout(self) -> None:
        """Return once the source's queue has been played out."""
        await self._source.wait_for_playout()


class RoomMedia:
    """The ``MediaPort`` of a room call: one caller in, the agent's published track out.

    From construction on, the caller's microphone track is followed as it is subscribed and
    unsubscribed; ``open`` also publishes the agent's track.
    """

    def __init__(
        self, room: rtc.Room, caller_identity: str, *, sample_rate: int = OUTPUT_SAMPLE_RATE
    ):
        self._room = room
        self._caller = caller_identity
        self._rate = sample_rate
        self._input = TrackAudioInput()
        self._source = rtc.AudioSource(sample_rate, 1, queue_size_ms=OUTPUT_QUEUE_MS)
        self._sink = AudioSourceSink(self._source)
        self._publication: rtc.LocalTrackPublication | None = None
        self._closed = False
        self._follow_caller()

    @classmethod
    async def open(
        cls,
        room: rtc.Room,
        caller_identity: str,
        *,
        wait_for_subscriber: bool = True,
        sample_rate: int = OUTPUT_SAMPLE_RATE,
    ) -> RoomMedia:
        """Follow the caller's microphone and publish the agent's track in ``room``.

        With ``wait_for_subscriber``, returns once the caller has subscribed to the agent's
        track (or after ``SUBSCRIBE_TIMEOUT``), so the greeting is not lost; an outbound call
        opens its media before the callee joins, and does not wait.
        """
        media = cls(room, caller_identity, sample_rate=sample_rate)
        try:
            await media._publish(wait_for_subscriber)
        except BaseException:
            await media.aclose()
            raise
        return media

    @property
    def caller_audio(self) -> TrackAudioInput:
        """The caller's audio."""
        return self._input

    @property
    def sink(self) -> AudioSourceSink:
        """The agent's published track."""
        return self._sink

    @property
    def sample_rate(self) -> int:
        """The output stream's rate."""
        return self._rate

    async def aclose(self) -> None:
        """Stop following the caller, unpublish and release the track (idempotent)."""
        if self._closed:
            return
        self._closed = True
        self._room.off("track_subscribed", self._on_track_subscribed)
        self._room.off("track_unsubscribed", self._on_track_unsubscribed)
        await self._input.aclose()
        publication, self._publication = self._publication, None
        await unpublish(self._room, publication)
        await self._source.aclose()

    def _follow_caller(self) -> None:
        self._room.on("track_subscribed", self._on_track_subscribed)
        self._room.on("track_unsubscribed", self._on_track_unsubscribed)
        participant = self._room.remote_participants.get(self._caller)
        if participant is None:
            return
        for publication in participant.track_publications.values():
            if publication.track is not None:
                self._on_track_subscribed(publication.track, publication, participant)

    async def _publish(self, wait_for_subscriber: bool) -> None:
        track = rtc.LocalAudioTrack.create_audio_track(TRACK_NAME, self._source)
        options = rtc.TrackPublishOptions(source=rtc.TrackSource.SOURCE_MICROPHONE)
        publication = await self._room.local_participant.publish_track(track, options)
        self._publication = publication
        if not wait_for_subscriber:
            return
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(publication.wait_for_subscription(), SUBSCRIBE_TIMEOUT)
            return
        logger.warning("the caller did not subscribe to the agent's track; speaking anyway")

    def _on_track_subscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity != self._caller or track.kind != rtc.TrackKind.KIND_AUDIO:
            return
        if publication.source not in (
            rtc.TrackSource.SOURCE_MICROPHONE,
            rtc.TrackSource.SOURCE_UNKNOWN,
        ):
            return
        self._input.attach(track)

    def _on_track_unsubscribed(
        self,
        track: rtc.Track,
        publication: rtc.RemoteTrackPublication,
        participant: rtc.RemoteParticipant,
    ) -> None:
        if participant.identity == self._caller and track.sid == self._input.track_sid:
            self._input.detach()
