"""Sentences rendered ahead of time, so they play without waiting for the TTS.

The static first sentence, the end-of-call sentence, the max-duration message and the voicemail
message are known before the call starts. They are synthesised once and cached per process
(keyed by the TTS, its voice settings and the text), so a greeting shared by thousands of calls
costs one synthesis per worker.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import tts

from ..log import logger


@dataclass(frozen=True)
class Clip:
    """A rendered sentence: its text and its audio frames."""

    text: str
    frames: tuple[rtc.AudioFrame, ...]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return sum(f.duration for f in self.frames)

    async def stream(self) -> AsyncIterator[rtc.AudioFrame]:
        """The frames as the async iterable ``AgentSession.say(audio=...)`` takes."""
        for frame in self.frames:
            yield frame


class ClipCache:
    """A small LRU of rendered clips shared by the calls of one process."""

    def __init__(self, capacity: int = 256) -> None:
        self._capacity = capacity
        self._clips: OrderedDict[tuple[str, str], Clip] = OrderedDict()

    def get(self, voice_key: str, text: str) -> Clip | None:
        """A cached clip, or None."""
        clip = self._clips.get((voice_key, text))
        if clip is not None:
            self._clips.move_to_end((voice_key, text))
        return clip

    def put(self, voice_key: str, clip: Clip) -> None:
        """Cache ``clip`` for this voice."""
        self._clips[(voice_key, clip.text)] = clip
        self._clips.move_to_end((voice_key, clip.text))
        while len(self._clips) > self._capacity:
            self._clips.popitem(last=False)


PROCESS_CLIPS = ClipCache()
"""The clip cache of this process."""


async def render(engine: tts.TTS, text: str) -> Clip:
    """Synthesise ``text`` into a clip."""
    frames: list[rtc.AudioFrame] = []
    async with engine.synthesize(text) as stream:
        async for audio in stream:
            frames.append(audio.frame)
    return Clip(text=text, frames=tuple(frames))


async def render_cached(
    engine: tts.TTS, voice_key: str, text: str, *, cache: ClipCache = PROCESS_CLIPS
) -> Clip:
    """A cached clip of ``text``, synthesising it on a miss."""
    clip = cache.get(voice_key, text)
    if clip is None:
        clip = await render(engine, text)
        cache.put(voice_key, clip)
    return clip


class Clips:
    """The static sentences of one call, rendering in the background from the call's start."""

    def __init__(
        self, engine: tts.TTS | None, voice_key: str, texts: dict[str, str | None]
    ) -> None:
        self._tasks: dict[str, asyncio.Task[Clip]] = {}
        if engine is None:
            return
        for name, text in texts.items():
            if text:
                self._tasks[name] = asyncio.create_task(
                    render_cached(engine, voice_key, text), name=f"clip-{name}"
                )

    async def get(self, name: str, *, wait_at_most: float) -> Clip | None:
        """The clip named ``name``, or None if it has none or it is not ready in time."""
        task = self._tasks.get(name)
        if task is None:
            return None
        try:
            return await asyncio.wait_for(asyncio.shield(task), wait_at_most)
        except Exception as err:  # a TTS failure must not stop the call: fall back to live TTS
            logger.warning("clip %s not rendered: %s", name, type(err).__name__)
            return None

    async def aclose(self) -> None:
        """Cancel renders still running."""
        for task in self._tasks.values():
            task.cancel()
        await asyncio.gather(*self._tasks.values(), return_exceptions=True)
