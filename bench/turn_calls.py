"""The calls of the turn-taking benchmark: a turn set laid out on call timelines.

``plan_calls`` deals the turns of a set to a few concurrent calls and places them on each
call's caller-audio clock: the first after the greeting, each turn's speech ``gap`` seconds
after the previous turn's speech ended. A backchannel or an interruption is placed while the
agent speaks its long answer to the turn before it (``OVERLAP_AFTER`` after that turn's end,
past the framework's 3 s echo-cancellation warm-up during which it ignores interruptions);
the next turn waits until that answer is surely over.

``write_call`` turns a planned call into a recorded-call folder (``docs/replay.md``): the
caller audio, the instant LLM's script (a fixed short answer; the long answer to a turn that
is followed by a backchannel or an interruption), and the caller's hang-up.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt
import soundfile
from livekit import rtc

from agent_runtime.offline_tts import SAMPLE_RATE, synthetic_voice

from .turn_form import TurnEntry, read_audio, segment_times
from .turn_stt import FINAL_DELAY, Stretch

SHORT_ANSWER = "All right I can help with that."
LONG_ANSWER = (
    "Let me explain how that works. First we check your account and the details you gave us."
    " Then we send a confirmation by text message and by email. After that a member of our"
    " team calls you back within two working days to finish everything."
)
"""Said over a backchannel or an interruption; no comma: its voice has no pause to be
mistaken for the agent stopping."""
GREETING = "Hello this is Alex from Acme support. How can I help you today?"
LEAD_IN = 6.0
"""The first turn's speech starts this long into the caller audio (after the greeting)."""
GAP = 7.0
OVERLAP_AFTER = 6.0
"""A backchannel or interruption starts this long after the end of the turn before it."""
ANSWER_WAIT = 3.0
"""The longest any implementation is expected to take to start answering."""
TAIL = 7.0
"""The caller hangs up this long after the last turn's speech."""


def answer_seconds(text: str) -> float:
    """How long the synthetic voice speaks ``text``."""
    return len(synthetic_voice(text)) / SAMPLE_RATE


# -- the plan ------------------------------------------------------------------------------------


@dataclass
class PlacedTurn:
    """A turn on its call's caller-audio clock, in seconds."""

    index: int
    """Its index in the turn set."""
    kind: str
    family: str
    category: str
    file_start: float
    segments: list[list[float]]
    """[start, end] of each stretch of speech."""
    texts: list[str]
    long_answer: bool = False
    """The agent's answer to it is long (a backchannel or interruption follows)."""

    @property
    def speech_start(self) -> float:
        """When the caller starts speaking."""
        return self.segments[0][0]

    @property
    def speech_end(self) -> float:
        """When the caller stops speaking."""
        return self.segments[-1][1]


@dataclass
class PlannedCall:
    """One call: its turns in order, and when the caller hangs up."""

    name: str
    turns: list[PlacedTurn] = field(default_factory=list)
    hangup_at: float = 0.0

    def stretches(self) -> list[Stretch]:
        """The caller's speech, for the STT stand-in."""
        return [
            Stretch(start, end, text)
            for turn in self.turns
            for (start, end), text in zip(turn.segments, turn.texts, strict=True)
        ]


def deal(entries: Sequence[TurnEntry], calls: int) -> list[list[int]]:
    """Entry indices per call: turns dealt in turn, each overlap after a one-stretch turn.

    Backchannels and interruptions are dealt in turn too, each after a turn of its call that
    is one stretch of speech, of three words or more where there is one (the long answer is
    keyed on its words), in the middle of the call.
    """
    turns = [i for i, e in enumerate(entries) if e.kind == "turn"]
    overlaps = [i for i, e in enumerate(entries) if e.kind != "turn"]
    dealt = [turns[c::calls] for c in range(calls)]
    for number, index in enumerate(overlaps):
        order = dealt[number % calls]
        taken = {order[p - 1] for p, i in enumerate(order) if entries[i].kind != "turn"}
        hosts = [
            p
            for p, i in enumerate(order)
            if entries[i].kind == "turn"
            and len(entries[i].segments) == 1
            and i not in taken
            and (p + 1 >= len(order) or entries[order[p + 1]].kind == "turn")
        ]
        if not hosts:
            raise ValueError("a backchannel or interruption has no one-stretch turn to follow")
        worded = [p for p in hosts if len(entries[order[p]].text.split()) >= 3]
        hosts = worded or hosts  # a longer text keys the long answer unambiguously
        host = hosts[len(hosts) // 2]
        order.insert(host + 1, index)
    return [d for d in dealt if d]


def plan_calls(
    entries: Sequence[TurnEntry],
    times: Sequence[list[list[float]]],
    lengths: Sequence[float],
    *,
    calls: int = 4,
    gap: float = GAP,
) -> list[PlannedCall]:
    """Place the turns on ``calls`` calls; ``times``: each entry's segment times in its
    file, ``lengths``: each file's length in seconds."""
    long_answer = answer_seconds(LONG_ANSWER)
    planned = []
    for number, order in enumerate(deal(entries, calls)):
        call = PlannedCall(f"call_{number + 1}")
        speech_at = LEAD_IN
        previous: PlacedTurn | None = None
        for index in order:
            entry = entries[index]
            if entry.kind != "turn" and previous is not None:
                previous.long_answer = True
                speech_at = previous.speech_end + OVERLAP_AFTER
            file_start = speech_at - times[index][0][0]
            placed = PlacedTurn(
                index=index,
                kind=entry.kind,
                family=entry.family,
                category=entry.category,
                file_start=round(file_start, 3),
                segments=[
                    [round(file_start + a, 3), round(file_start + b, 3)] for a, b in times[index]
                ],
                texts=list(entry.segments),
            )
            call.turns.append(placed)
            speech_at = placed.speech_end + gap
            if entry.kind != "turn" and previous is not None:
                answer_over = previous.speech_end + ANSWER_WAIT + long_answer + 1.0
                speech_at = max(speech_at, answer_over)
            previous = placed if entry.kind == "turn" else None
            call.hangup_at = round(max(call.hangup_at, file_start + lengths[index]), 3)
        # after the last turn, and after the answer a backchannel or interruption was said over
        call.hangup_at = round(max(call.hangup_at, call.turns[-1].speech_end + TAIL, speech_at), 3)
        planned.append(call)
    return planned


def mix_caller(
    call: PlannedCall, audios: Sequence[npt.NDArray[np.float64]], rate: int
) -> npt.NDArray[np.int16]:
    """The call's caller audio: each turn's file at its place."""
    out = np.zeros(int(call.hangup_at * rate) + 1)
    for turn in call.turns:
        audio = audios[turn.index]
        begin = int(round(turn.file_start * rate))
        out[begin : begin + len(audio)] += audio[: len(out) - begin]
    return np.asarray(np.clip(out * 32768, -32768, 32767), dtype=np.int16)


def _resampled(audio: npt.NDArray[np.float64], rate: int, to: int) -> npt.NDArray[np.float64]:
    if rate == to:
        return audio
    resampler = rtc.AudioResampler(rate, to, quality=rtc.AudioResamplerQuality.HIGH)
    pcm = np.asarray(np.clip(audio * 32768, -32768, 32767), dtype=np.int16)
    frames = resampler.push(bytearray(pcm.tobytes())) + resampler.flush()
    data = b"".join(bytes(f.data.cast("B")) for f in frames)
    return np.frombuffer(data, dtype=np.int16) / 32768.0


def write_calls(
    folder: Path, entries: Sequence[TurnEntry], out: Path, *, calls: int, gap: float
) -> list[PlannedCall]:
    """Plan the turn set in ``folder`` and write each call as a recorded call under ``out``."""
    loaded = [read_audio(folder, e) for e in entries]
    rate = loaded[0][1]
    audios = [_resampled(a, r, rate) for a, r in loaded]
    times = [segment_times(e, a, rate) for e, (a, _) in zip(entries, loaded, strict=True)]
    lengths = [len(a) / rate for a in audios]
    planned = plan_calls(entries, times, lengths, calls=calls, gap=gap)
    for call in planned:
        write_call(out / call.name, call, mix_caller(call, audios, rate), rate)
    return planned


def write_call(path: Path, call: PlannedCall, audio: npt.NDArray[np.int16], rate: int) -> None:
    """``call`` as a recorded-call folder."""
    path.mkdir(parents=True, exist_ok=True)
    soundfile.write(str(path / "caller.wav"), audio, rate, subtype="PCM_16")
    config = {
        "call": {
            "id": f"call_bench_turns_{call.name}",
            "direction": "inbound",
            "from_phone_number": "+14155550123",
            "to_phone_number": "+14155550100",
            "assistant": {
                "name": "Acme support",
                "prompt": "You are Alex, a friendly support agent at Acme. Keep answers short.",
                "first_sentence_mode": "static",
                "first_sentence": GREETING,
                "first_sentence_delay_ms": 400,
                "voice": {"id": "offline", "provider": "cartesia"},
                "llm_model": {"type": "dedicated-instance", "name": "gpt-4.1"},
            },
        }
    }
    instant = {"ttft": 0.0, "token_interval": 0.0}
    answers: list[dict[str, Any]] = [
        {"when": {"user_contains": t.texts[-1]}, "text": LONG_ANSWER, **instant}
        for t in call.turns
        if t.long_answer
        for _ in range(3)  # served again if the turn is answered again
    ]
    answers.append({"text": SHORT_ANSWER, **instant})
    utterances = [
        {"start": s.start, "end": s.end, "text": s.text, "delay": FINAL_DELAY}
        for s in call.stretches()
    ]
    (path / "call.json").write_text(json.dumps(config, indent=1))
    (path / "llm.json").write_text(json.dumps({"answers": answers}, indent=1))
    (path / "stt.json").write_text(json.dumps({"utterances": utterances}, indent=1))
    (path / "caller.json").write_text(json.dumps({"hangup_at": call.hangup_at}))
