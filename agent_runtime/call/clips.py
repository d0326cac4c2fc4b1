"""Sentences rendered ahead of time, so they play without waiting for the TTS.

The static first sentence, the end-of-call sentence, the max-duration message and the lines said
on a provider failure are known before the call starts. Each is synthesised from the call's
start and can be played while it is still rendering (a greeting on a cold cache starts after
the TTS's first byte, as live speech would). Rendered clips are cached per process (keyed by the
TTS, its voice settings and the text) and, for sentences without prompt variables, on disk
(``ClipStore``), so a greeting shared by thousands of calls costs one synthesis per machine.
"""

from __future__ import annotations

import asyncio
from collections import OrderedDict
from collections.abc import AsyncIterator, Mapping
from dataclasses import dataclass

from livekit import rtc
from livekit.agents import tts

from ..log import logger
from ..tasks import TaskSet
from .clip_store import ClipStore


@dataclass(frozen=True)
class Clip:
    """A rendered sentence: its text and its audio frames."""

    text: str
    frames: tuple[rtc.AudioFrame, ...]

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return sum(f.duration for f in self.frames)


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


FIRST_ALONE_AT_MOST = 2.0
"""Seconds the first sentence renders alone, at most: a TTS stuck on it does not hold the others
back for the whole call."""

PROCESS_CLIPS = ClipCache()
"""The clip cache of this process."""


async def render(engine: tts.TTS, text: str) -> Clip:
    """Synthesise ``text`` into a clip."""
    frames: list[rtc.AudioFrame] = []
    async with engine.synthesize(text) as stream:
        async for audio in stream:
            frames.append(audio.frame)
    return Clip(text=text, frames=tuple(frames))


class Rendering:
    """A sentence being synthesised: playable frame by frame before the TTS has finished."""

    def __init__(self, text: str) -> None:
        self.text = text
        self._frames: list[rtc.AudioFrame] = []
        self._grown = asyncio.Event()
        self._clip: asyncio.Future[Clip] = asyncio.get_running_loop().create_future()

    @classmethod
    def of(cls, clip: Clip) -> Rendering:
        """A rendering that is already complete."""
        rendering = cls(clip.text)
        rendering._frames = list(clip.frames)
        rendering._clip.set_result(clip)
        return rendering

    def push(self, frame: rtc.AudioFrame) -> None:
        """Add the next frame the TTS produced."""
        self._frames.append(frame)
        self._wake()

    def finish(self) -> Clip:
        """The TTS is done: the complete clip."""
        clip = Clip(text=self.text, frames=tuple(self._frames))
        self._clip.set_result(clip)
        self._wake()
        return clip

    def fail(self, error: Exception) -> None:
        """The TTS failed: readers get what was rendered so far, ``clip()`` raises."""
        self._clip.set_exception(error)
        self._clip.exception()  # retrieved: only the readers who ask for the clip see it
        self._wake()

    async def started(self) -> bool:
        """Wait for the first frame; False if the TTS failed or produced nothing."""
        while not self._frames and not self._clip.done():
            await self._grown.wait()
        return bool(self._frames)

    async def done(self, *, wait_at_most: float) -> None:
        """Wait until the TTS has finished or failed, or the time is up (never raises)."""
        await asyncio.wait([self._clip], timeout=wait_at_most)

    async def clip(self) -> Clip:
        """Wait for the complete clip."""
        return await asyncio.shield(self._clip)

    async def stream(self) -> AsyncIterator[rtc.AudioFrame]:
        """The frames as they come, to the last (``AgentSession.say(audio=...)``)."""
        played = 0
        while True:
            while played < len(self._frames):
                yield self._frames[played]
                played += 1
            if self._clip.done():
                if self._clip.exception() is not None:
                    logger.warning("clip cut short: the TTS failed while rendering it")
                return
            await self._grown.wait()

    def _wake(self) -> None:
        self._grown.set()
        self._grown = asyncio.Event()


@dataclass(frozen=True)
class StaticSentence:
    """A sentence a call may say, known before it starts."""

    text: str
    shareable: bool = False
    """True when the text holds nothing of this call (no prompt variable): it may be kept on
    disk and replayed by other calls."""


class Clips:
    """The static sentences of one call, rendering in the background once ``start`` is called.

    Sentences already in the process's memory are ready at once; a shareable sentence is looked
    for in the disk store (read in a thread, off the event loop), then synthesised. The first
    sentence to produce (in the mapping's order: the greeting first) has the CPU and the TTS to
    itself; the others start once it is rendered (or after ``FIRST_ALONE_AT_MOST``), so they do not
    delay the caller's first word.
    """

    def __init__(
        self,
        engine: tts.TTS | None,
        voice_key: str,
        sentences: Mapping[str, StaticSentence | None],
        *,
        cache: ClipCache = PROCESS_CLIPS,
        store: ClipStore | None = None,
    ) -> None:
        self._engine = engine
        self._voice_key = voice_key
        self._sentences = sentences
        self._cache = cache
        self._store = store
        self._renders: dict[str, Rendering] = {}
        self._tasks = TaskSet()
        self._writes = TaskSet()
        """Clips being stored on disk: short, and never cut half-way."""

    def start(self) -> None:
        """Start producing every sentence (no TTS, no clips: live speech is impossible too)."""
        engine = self._engine
        if engine is None:
            return
        first: Rendering | None = None
        for name, sentence in self._sentences.items():
            if sentence is None or not sentence.text:
                continue
            store = self._store if sentence.shareable else None
            clip = self._cache.get(self._voice_key, sentence.text)
            if clip is not None:
                self._renders[name] = Rendering.of(clip)
                if store is not None:
                    self._writes.spawn(self._keep(store, clip), name=f"clip-keep-{name}")
                continue
            rendering = Rendering(sentence.text)
            self._renders[name] = rendering
            produce = self._produce(engine, store, rendering, after=first)
            self._tasks.spawn(produce, name=f"clip-{name}")
            first = first or rendering

    async def _keep(self, store: ClipStore, clip: Clip) -> None:
        await asyncio.to_thread(store.save_if_missing, self._voice_key, clip.text, clip.frames)

    async def _produce(
        self,
        engine: tts.TTS,
        store: ClipStore | None,
        rendering: Rendering,
        *,
        after: Rendering | None,
    ) -> None:
        text = rendering.text
        try:
            if after is not None:
                await after.done(wait_at_most=FIRST_ALONE_AT_MOST)
            stored = None
            if store is not None:
                stored = await asyncio.to_thread(store.load, self._voice_key, text)
            if stored is not None:
                for frame in stored:
                    rendering.push(frame)
            else:
                async with engine.synthesize(text) as stream:
                    async for audio in stream:
                        rendering.push(audio.frame)
        except Exception as err:  # a TTS failure must not stop the call: live TTS takes over
            logger.warning("clip not rendered: %s", type(err).__name__)
            rendering.fail(err)
            return
        except asyncio.CancelledError:
            rendering.fail(RuntimeError("rendering cancelled"))
            raise
        clip = rendering.finish()
        self._cache.put(self._voice_key, clip)
        if store is not None and stored is None:
            self._writes.spawn(self._keep(store, clip), name="clip-store")

    async def get(self, name: str, *, wait_at_most: float) -> Clip | None:
        """The complete clip named ``name``, or None if it has none or it is not ready in time."""
        rendering = self._renders.get(name)
        if rendering is None:
            return None
        try:
            return await asyncio.wait_for(rendering.clip(), wait_at_most)
        except Exception as err:  # failed or late: the caller renders it live or goes on
            logger.warning("clip %s not ready: %s", name, type(err).__name__)
            return None

    async def stream(
        self, name: str, *, first_frame_within: float
    ) -> AsyncIterator[rtc.AudioFrame] | None:
        """The frames of ``name`` as they render.

        None if its first frame does not come within ``first_frame_within`` seconds: then live
        TTS should say it.
        """
        rendering = self._renders.get(name)
        if rendering is None:
            return None
        try:
            if await asyncio.wait_for(rendering.started(), first_frame_within):
                return rendering.stream()
        except TimeoutError:
            pass
        logger.warning("clip %s not started in time: speaking it live", name)
        return None

    async def aclose(self) -> None:
        """Cancel renders still running and finish storing the rendered ones (idempotent)."""
        await self._tasks.aclose()
        await self._writes.join()
        await self._writes.aclose()
