"""Static sentences rendered ahead: played while still rendering, shared on disk across calls.

The TTS here is a fake provider plugin (the outside world): it speaks a tone, can hold back
everything after its first chunk until the test releases it, and can fail.
"""

from __future__ import annotations

import asyncio
from pathlib import Path

import numpy as np
import pytest
from livekit import rtc
from livekit.agents import APIStatusError, tts, utils
from livekit.agents.types import DEFAULT_API_CONNECT_OPTIONS, APIConnectOptions

from agent_runtime.call.clip_store import ClipStore
from agent_runtime.call.clips import FIRST_ALONE_AT_MOST, ClipCache, Clips, StaticSentence
from agent_runtime.call.settings import CallSettings

RATE = 24000
GREETING = "Hello, this is Alex from Acme support."
VOICE = "fake|voice"


class FakeTTS(tts.TTS):
    """Speaks one second of tone per sentence: a first chunk at once, the rest when released."""

    def __init__(
        self,
        *,
        hold: asyncio.Event | None = None,
        fail: bool = False,
        silent_until_released: bool = False,
    ) -> None:
        super().__init__(
            capabilities=tts.TTSCapabilities(streaming=False), sample_rate=RATE, num_channels=1
        )
        self.hold = hold
        self.fail = fail
        self.silent_until_released = silent_until_released
        self.requests: list[str] = []

    def synthesize(
        self, text: str, *, conn_options: APIConnectOptions = DEFAULT_API_CONNECT_OPTIONS
    ) -> tts.ChunkedStream:
        self.requests.append(text)
        return _FakeStream(tts=self, input_text=text, conn_options=conn_options)


class _FakeStream(tts.ChunkedStream):
    def __init__(self, *, tts: FakeTTS, input_text: str, conn_options: APIConnectOptions):
        super().__init__(tts=tts, input_text=input_text, conn_options=conn_options)
        self._fake = tts

    async def _run(self, output_emitter: tts.AudioEmitter) -> None:
        if self._fake.fail:
            raise APIStatusError("voice not found", status_code=404, retryable=False)
        if self._fake.silent_until_released and self._fake.hold is not None:
            await self._fake.hold.wait()
        tone = (np.sin(np.arange(RATE) * 0.05) * 8000).astype(np.int16)
        output_emitter.initialize(
            request_id=utils.shortuuid(), sample_rate=RATE, num_channels=1, mime_type="audio/pcm"
        )
        half = RATE // 2
        output_emitter.push(tone[:half].tobytes())
        output_emitter.flush()
        if self._fake.hold is not None:
            await self._fake.hold.wait()
        output_emitter.push(tone[half:].tobytes())
        output_emitter.flush()


def start(clips: Clips) -> Clips:
    clips.start()
    return clips


def _samples(frames: list[rtc.AudioFrame] | tuple[rtc.AudioFrame, ...]) -> np.ndarray:
    return np.concatenate([np.frombuffer(f.data, dtype=np.int16) for f in frames])


async def test_the_greeting_plays_while_the_tts_is_still_rendering() -> None:
    hold = asyncio.Event()
    clips = start(
        Clips(
            FakeTTS(hold=hold),
            VOICE,
            {"first_sentence": StaticSentence(GREETING)},
            cache=ClipCache(),
        )
    )
    audio = await asyncio.wait_for(clips.stream("first_sentence", first_frame_within=1.0), 2.0)
    assert audio is not None  # available before the TTS has finished
    heard = [await asyncio.wait_for(anext(audio), 1.0)]
    assert not hold.is_set()
    hold.set()
    heard += [frame async for frame in audio]
    assert sum(f.duration for f in heard) == pytest.approx(1.0, abs=0.05)
    # the complete clip is the same audio
    clip = await clips.get("first_sentence", wait_at_most=1.0)
    assert clip is not None
    assert np.array_equal(_samples(clip.frames), _samples(heard))
    await clips.aclose()


async def test_a_clip_cached_in_the_process_plays_without_a_synthesis() -> None:
    cache = ClipCache()
    first = FakeTTS()
    clips = start(Clips(first, VOICE, {"first_sentence": StaticSentence(GREETING)}, cache=cache))
    assert await clips.get("first_sentence", wait_at_most=2.0) is not None
    second = FakeTTS()
    again = start(Clips(second, VOICE, {"first_sentence": StaticSentence(GREETING)}, cache=cache))
    assert await again.get("first_sentence", wait_at_most=0.01) is not None
    assert (first.requests, second.requests) == ([GREETING], [])
    await clips.aclose()
    await again.aclose()


async def test_sentences_without_variables_are_reused_from_disk_by_another_process(
    tmp_path: Path,
) -> None:
    store = ClipStore(tmp_path / "clips")
    sentences = {
        "first_sentence": StaticSentence(GREETING, shareable=True),
        "end_of_call_sentence": StaticSentence("Goodbye Maria.", shareable=False),
    }
    first = start(Clips(FakeTTS(), VOICE, dict(sentences), cache=ClipCache(), store=store))
    rendered = await first.get("first_sentence", wait_at_most=2.0)
    assert rendered is not None
    await first.get("end_of_call_sentence", wait_at_most=2.0)
    await first.aclose()  # waits for the file, written off the event loop
    assert [p.suffix for p in store.directory.iterdir()] == [".wav"]  # the greeting only

    # a new job process: an empty memory cache, the same disk
    tts_again = FakeTTS()
    later = start(Clips(tts_again, VOICE, dict(sentences), cache=ClipCache(), store=store))
    reused = await later.get("first_sentence", wait_at_most=2.0)  # read off the event loop
    assert reused is not None
    assert np.array_equal(_samples(reused.frames), _samples(rendered.frames))
    assert all(f.duration == pytest.approx(0.02) for f in reused.frames[:-1])  # 20 ms frames
    await later.get("end_of_call_sentence", wait_at_most=2.0)
    assert tts_again.requests == ["Goodbye Maria."]  # the caller's name was never stored
    await later.aclose()
    # another voice does not get this voice's audio
    other = FakeTTS()
    elsewhere = start(Clips(other, "fake|other", dict(sentences), cache=ClipCache(), store=store))
    assert await elsewhere.get("first_sentence", wait_at_most=2.0) is not None
    assert GREETING in other.requests
    await elsewhere.aclose()


async def test_a_failing_tts_leaves_the_sentence_to_live_speech() -> None:
    clips = start(
        Clips(
            FakeTTS(fail=True),
            VOICE,
            {"first_sentence": StaticSentence(GREETING)},
            cache=ClipCache(),
        )
    )
    assert await clips.stream("first_sentence", first_frame_within=2.0) is None
    assert await clips.get("first_sentence", wait_at_most=2.0) is None
    await clips.aclose()


async def test_a_tts_that_hangs_leaves_the_greeting_to_live_speech_within_the_wait() -> None:
    hung = FakeTTS(hold=asyncio.Event(), silent_until_released=True)
    clips = start(
        Clips(hung, VOICE, {"first_sentence": StaticSentence(GREETING)}, cache=ClipCache())
    )
    loop = asyncio.get_running_loop()
    started = loop.time()
    assert await clips.stream("first_sentence", first_frame_within=0.3) is None
    assert loop.time() - started == pytest.approx(0.3, abs=0.15)
    await clips.aclose()


def test_an_unreadable_stored_clip_is_removed_and_rendered_again(tmp_path: Path) -> None:
    store = ClipStore(tmp_path)
    path = store.path(VOICE, GREETING)
    path.write_bytes(b"not a wav file")
    assert store.load(VOICE, GREETING) is None
    assert not path.exists()


def test_the_store_keeps_the_most_recently_used_clips(tmp_path: Path) -> None:
    store = ClipStore(tmp_path, capacity=2)
    frame = rtc.AudioFrame(np.ones(480, dtype=np.int16).tobytes(), RATE, 1, 480)
    for text in ("one", "two", "three"):
        store.save(VOICE, text, [frame])
    assert store.load(VOICE, "one") is None
    assert store.load(VOICE, "three") is not None
    assert len(list(tmp_path.glob("*.wav"))) == 2
    assert not list(tmp_path.glob("*.tmp"))


def test_the_store_is_chosen_by_the_environment(tmp_path: Path) -> None:
    def store(env: dict[str, str]) -> ClipStore | None:
        return CallSettings.from_env(env).clip_store()

    assert store({"AGENT_CLIP_CACHE_DIR": "off"}) is None
    chosen = store({"AGENT_CLIP_CACHE_DIR": str(tmp_path)})
    assert chosen is not None and chosen.directory == tmp_path
    default = store({})
    assert default is not None and default.directory.parts[-2:] == ("agent-runtime", "clips")


async def test_the_greeting_renders_alone_before_the_other_sentences() -> None:
    hold = asyncio.Event()
    engine = FakeTTS(hold=hold)
    sentences = {
        "first_sentence": StaticSentence(GREETING),
        "end_of_call_sentence": StaticSentence("Goodbye."),
        "failure_line": StaticSentence("Sorry, one moment."),
    }
    clips = start(Clips(engine, VOICE, sentences, cache=ClipCache()))
    assert await clips.stream("first_sentence", first_frame_within=1.0) is not None
    await asyncio.sleep(0.05)
    assert engine.requests == [GREETING]  # the greeting has the TTS to itself
    hold.set()
    assert await clips.get("failure_line", wait_at_most=2.0) is not None
    assert sorted(engine.requests) == sorted(s.text for s in sentences.values())
    await clips.aclose()


async def test_a_greeting_stuck_in_the_tts_does_not_hold_the_other_sentences_for_ever() -> None:
    engine = FakeTTS(hold=asyncio.Event(), silent_until_released=True)
    sentences = {"first_sentence": StaticSentence(GREETING), "failure_line": StaticSentence("x")}
    clips = start(Clips(engine, VOICE, sentences, cache=ClipCache()))
    await asyncio.sleep(FIRST_ALONE_AT_MOST / 2)
    assert engine.requests == [GREETING]
    await asyncio.sleep(FIRST_ALONE_AT_MOST / 2 + 0.3)
    assert engine.requests == [GREETING, "x"]
    await clips.aclose()
