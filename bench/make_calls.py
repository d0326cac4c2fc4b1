"""Make the bench-only recorded calls under ``bench/calls/``.

Like ``fixtures/generate_calls.py`` (espeak-ng for the caller, line noise, 300-3400 Hz, 8 kHz
mu-law with sox), with two differences that matter to the benchmarks:

- ``pauses_*`` calls have many caller turns, most of them split by a pause of 0.5-1.2 s in
  the middle of a sentence. Each stretch of speech is its own transcript in ``stt.json`` (a
  streaming STT finalises at a pause), and ``turns.json`` says which stretches form one turn,
  so the latency benchmark knows when a turn really ended and when the caller was only pausing.
  Caller turns are placed so that the agent's answer (synthetic voice) ends before the next
  turn starts, even when the end-of-turn model waits its maximum delay.
- ``typical`` is a short, ordinary call (three turns, office ambience and a thinking sound)
  for the cost benchmark; ``first_word`` is a silent caller who hangs up after the greeting.
- ``steady`` is a longer ordinary call (six turns said in one go, answers of one or two
  sentences, office ambience and a thinking sound) for the capacity benchmark, which was not
  tuned on it.

The LLM answers carry no delay here: the benchmarks zero them anyway (instant fakes).

    python -m bench.make_calls
"""

from __future__ import annotations

import io
import json
import random
import subprocess
import tempfile
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

import numpy as np
import numpy.typing as npt
import soundfile

from agent_runtime.offline_tts import SAMPLE_RATE as TTS_RATE
from agent_runtime.offline_tts import synthetic_voice

HERE = Path(__file__).resolve().parent
CALLS = HERE / "calls"
RATE = 22050
CALLER_VOICE = "en-gb+f3"
NOISE_DBFS = -52.0
GREETING = "Hello, this is Alex from Acme support. How can I help you today?"
GREETING_DELAY = 0.4
CATCH_ALL = "Sure, one moment."
"""Answer to any request no turn-specific answer matches (e.g. a turn cut off at a pause)."""
LOUD = 0.02
"""Amplitude above which the caller's audio counts as speech (the fixtures' threshold)."""
MAX_ENDPOINTING = 2.5
"""The runtime's longest end-of-turn wait: the next turn starts after the answer even then."""

Audio = npt.NDArray[np.float32]


def espeak(text: str, *, ssml: bool = False) -> Audio:
    """``text`` said by the caller's voice, leading and trailing silence trimmed."""
    out = subprocess.run(
        ["espeak-ng", "-v", CALLER_VOICE, "-s", "165", *(["-m"] if ssml else []), "--stdout", text],
        capture_output=True,
        check=True,
    ).stdout
    data, rate = soundfile.read(io.BytesIO(out), dtype="float32")
    assert rate == RATE
    loud = np.flatnonzero(np.abs(data) > LOUD)
    trimmed: Audio = data[loud[0] : loud[-1] + 1]
    return trimmed


def speak(parts: list[str], pauses: list[float]) -> tuple[Audio, list[tuple[float, float]]]:
    """One sentence said in ``parts``, with a pause of ``pauses[i]`` seconds after part i.

    The sentence is synthesised in one go with SSML breaks, so the voice keeps the intonation
    of an unfinished sentence at each pause (synthesised separately, every part would end like
    a finished sentence). Returns the audio and where each part is spoken in it (seconds).
    """
    if not pauses:
        audio = espeak(parts[0])
        return audio, [(0.0, audio.size / RATE)]
    pieces = [escape(part) for part in parts]
    body = "".join(
        piece + (f' <break time="{int(pause * 1000)}ms"/> ' if i < len(pauses) else "")
        for i, (piece, pause) in enumerate(zip(pieces, [*pauses, 0.0], strict=True))
    )
    audio = espeak(f"<speak>{body}</speak>", ssml=True)
    loud = np.flatnonzero(np.abs(audio) > LOUD)
    gaps = np.diff(loud)
    breaks = sorted(np.argsort(gaps)[-len(pauses) :])  # the pauses are the longest silences
    edges = [0.0]
    for index in breaks:
        edges += [loud[index] / RATE, loud[index + 1] / RATE]
    edges.append(audio.size / RATE)
    return audio, [(edges[i], edges[i + 1]) for i in range(0, len(edges), 2)]


def agent_seconds(text: str) -> float:
    """How long the agent's synthetic voice takes to say ``text``."""
    return float(synthetic_voice(text).size / TTS_RATE)


def assistant(name: str, **overrides: Any) -> dict[str, Any]:
    """A call document like the fixtures' (static greeting), overridden by ``overrides``."""
    base = {
        "name": "Acme support",
        "prompt": "You are Alex, a friendly support agent at Acme. Keep answers short.",
        "first_sentence_mode": "static",
        "first_sentence": GREETING,
        "first_sentence_delay_ms": int(GREETING_DELAY * 1000),
        "voice": {"id": "offline", "provider": "cartesia"},
        "llm_model": {"type": "dedicated-instance", "name": "gpt-4.1"},
    }
    return {
        "call": {
            "id": f"call_bench_{name}",
            "direction": "inbound",
            "from_phone_number": "+14155550123",
            "to_phone_number": "+14155550100",
            "assistant": {**base, **overrides},
        }
    }


def write_call(
    name: str,
    document: dict[str, Any],
    turns: list[dict[str, Any]],
    *,
    first_at: float,
    tail: float,
    rng: random.Random,
) -> None:
    """Place the caller's turns, then write the call folder.

    Each turn is ``{"parts": [text, ...], "answer": text, "key": word}``: the parts are one
    sentence said with a pause of 0.5-1.2 s between them; ``key`` (a word of the last part)
    selects the answer in ``llm.json``.
    """
    folder = CALLS / name
    folder.mkdir(parents=True, exist_ok=True)
    placed: list[tuple[float, Audio]] = []
    utterances: list[dict[str, Any]] = []
    groups: list[list[int]] = []
    answers: list[dict[str, Any]] = []
    at = first_at
    for turn in turns:
        parts = turn["parts"]
        audio, spans = speak(parts, [rng.uniform(0.5, 1.2) for _ in parts[1:]])
        placed.append((at, audio))
        group = []
        for text, (start, end) in zip(parts, spans, strict=True):
            group.append(len(utterances))
            utterances.append(
                {"start": round(at + start, 3), "end": round(at + end, 3), "text": text}
            )
        groups.append(group)
        at += audio.size / RATE
        answers.append({"when": {"user_contains": turn["key"]}, "text": turn["answer"]})
        longest = max(agent_seconds(turn["answer"]), agent_seconds(CATCH_ALL))
        at += MAX_ENDPOINTING + 0.6 + longest + rng.uniform(0.8, 2.0)
    answers.append({"when": {}, "text": CATCH_ALL})
    hangup = round(at - rng.uniform(0.8, 2.0) + tail, 3)
    length = max(start + audio.size / RATE for start, audio in placed) + 0.5
    noise = np.random.default_rng(sum(map(ord, name)))
    signal = noise.normal(0, 10 ** (NOISE_DBFS / 20), int(length * RATE)).astype(np.float32)
    for start, audio in placed:
        offset = int(start * RATE)
        signal[offset : offset + audio.size] += audio * 0.7
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        soundfile.write(str(raw), np.clip(signal, -1, 1), RATE, subtype="PCM_16")
        command = ["sox", "-D", str(raw), "-r", "8000", "-e", "u-law", str(folder / "caller.wav")]
        subprocess.run([*command, "sinc", "300-3400"], check=True)
    files = {
        "call.json": document,
        "stt.json": {"utterances": utterances},
        "llm.json": {"answers": answers},
        "caller.json": {"hangup_at": hangup},
        "turns.json": {"turns": groups},
    }
    for file, content in files.items():
        (folder / file).write_text(json.dumps(content, indent=2) + "\n")
    pauses = sum(len(g) - 1 for g in groups)
    print(f"{name}: {hangup:.1f} s, {len(groups)} caller turns, {pauses} mid-sentence pauses")


# Caller turns: a sentence cut where a person might stop to think, and the agent's answer.
SPLIT_TURNS = [
    (
        ["I would like to move my appointment to", "next Thursday afternoon, if possible."],
        "Thursday afternoon works. I have moved your appointment.",
        "Thursday",
    ),
    (
        ["My account number is", "four five six, seven eight nine."],
        "Thank you, I found your account.",
        "seven eight",
    ),
    (
        ["Can you tell me whether the store on", "Market Street is open on Sundays?"],
        "Yes, it opens at ten on Sundays.",
        "Sundays",
    ),
    (
        ["I ordered a blue jacket and", "it arrived in the wrong size."],
        "I am sorry. I can send you a new one today.",
        "wrong size",
    ),
    (
        ["The charge on my card was", "forty dollars instead of", "twenty five."],
        "I see the difference. I will refund fifteen dollars.",
        "twenty five",
    ),
    (
        ["Could you send the invoice to", "my work address instead?"],
        "Of course, I will send it there.",
        "work address",
    ),
    (
        ["I have been waiting since", "Monday for the technician."],
        "I apologise. A technician will call you tomorrow.",
        "technician",
    ),
    (
        ["We need a table for", "six people on Friday evening."],
        "A table for six on Friday is booked.",
        "Friday evening",
    ),
    (
        ["Is it possible to pay with", "a bank transfer or only by card?"],
        "Both work. A bank transfer takes two days.",
        "bank transfer",
    ),
    (
        ["My daughter needs to change the", "password of her account."],
        "I will text her a reset link now.",
        "password",
    ),
    (
        ["The parcel should have arrived", "yesterday but the tracking", "shows nothing."],
        "Let me check the tracking for you.",
        "shows nothing",
    ),
    (
        ["I would like to cancel the", "premium plan at the end of the month."],
        "Your premium plan will end on the thirtieth.",
        "premium plan",
    ),
    (
        ["Do you deliver to", "the north side of the city?"],
        "Yes, we deliver there every day.",
        "north side",
    ),
    (
        ["The heating in my flat has been", "broken for three days."],
        "I will send someone this afternoon.",
        "three days",
    ),
    (["Can I bring", "my dog to the store?"], "Dogs are welcome in all our stores.", "my dog"),
    (
        ["I am calling about the email", "you sent me this morning."],
        "That email confirms your new address.",
        "this morning",
    ),
    (
        ["Please put me down for the", "nine o'clock class on Saturday."],
        "You are booked for nine on Saturday.",
        "nine o'clock",
    ),
    (
        ["How much does it cost to", "ship a parcel to Canada?"],
        "Shipping to Canada is twelve dollars.",
        "Canada",
    ),
    (
        ["I think the meter reading on my bill is", "higher than last year."],
        "I will ask for a new reading.",
        "last year",
    ),
    (
        ["My new phone does not", "connect to the wireless network."],
        "Please restart it, then try again.",
        "wireless",
    ),
    (
        ["Could you tell me when the", "next train to Boston leaves?"],
        "The next one leaves at five past two.",
        "Boston",
    ),
    (
        ["I would like to add", "my husband to the insurance policy."],
        "I can add him today.",
        "insurance",
    ),
    (
        ["The form on your website", "keeps showing an error."],
        "Sorry about that. I will fill it in for you.",
        "error",
    ),
    (
        ["We are moving house on the", "fifteenth of next month."],
        "I will move your service on the fifteenth.",
        "fifteenth",
    ),
]
WHOLE_TURNS = [
    (
        ["Hello. I have a question about my last bill."],
        "Of course. What is the question?",
        "last bill",
    ),
    (["Yes, that is right."], "Great, it is done.", "that is right"),
    (["No, that was everything. Thank you."], "You are welcome.", "everything"),
    (["What time do you close today?"], "We close at eight tonight.", "close today"),
    (["Hi. Where is your main store?"], "It is at twelve Market Street.", "main store"),
    (["Okay, perfect. Thanks a lot."], "My pleasure.", "perfect"),
]


def pauses_calls(count: int = 6, turns_per_call: int = 6) -> None:
    """``pauses_1`` ... : many turns, most with a mid-sentence pause."""
    rng = random.Random(5)
    split = list(SPLIT_TURNS)
    rng.shuffle(split)
    for number in range(1, count + 1):
        chosen = []
        for slot in range(turns_per_call):
            # two turns in three are split by a pause; the others are said in one go
            if slot % 3 != 2 and split:
                parts, answer, key = split.pop()
            else:
                parts, answer, key = WHOLE_TURNS[(number + slot) % len(WHOLE_TURNS)]
            chosen.append({"parts": parts, "answer": answer, "key": key})
        name = f"pauses_{number}"
        first = GREETING_DELAY + agent_seconds(GREETING) + rng.uniform(0.8, 1.5)
        write_call(name, assistant(name), chosen, first_at=first, tail=1.5, rng=rng)


def typical_call() -> None:
    """``typical``: an ordinary short call with ambience and a thinking sound (cost)."""
    rng = random.Random(7)
    document = assistant(
        "typical",
        background_sound="audio/office.ogg",
        background_sound_volume=0.5,
        thinking_sound="keyboard-typing.ogg",
        thinking_sound_volume=0.5,
    )
    turns = [
        {
            "parts": ["Hello. I have a question about my last bill."],
            "answer": "Of course. What would you like to know about it?",
            "key": "last bill",
        },
        {
            "parts": ["Why was I charged forty dollars this month?"],
            "answer": "That is the yearly fee for the premium plan.",
            "key": "forty dollars",
        },
        {
            "parts": ["Okay, I see. Thank you, goodbye."],
            "answer": "You are welcome. Goodbye.",
            "key": "goodbye",
        },
    ]
    first = GREETING_DELAY + agent_seconds(GREETING) + 0.8
    write_call("typical", document, turns, first_at=first, tail=0.0, rng=rng)


STEADY_TURNS = [
    (
        "Hello I am calling about my internet connection",
        "Of course. I can help with that. What seems to be the problem?",
        "internet connection",
    ),
    (
        "It keeps dropping every evening since last week",
        "I am sorry to hear that. I can see a fault in your area that started on Monday.",
        "every evening",
    ),
    (
        "When do you think it will be fixed?",
        "The engineers expect to finish tomorrow morning.",
        "fixed",
    ),
    (
        "Can I get a discount for the days it did not work?",
        "Yes. I have added a credit of ten dollars to your next bill.",
        "discount",
    ),
    (
        "Will you send me a confirmation by email?",
        "I have sent it to your email address. It should arrive in a minute.",
        "confirmation",
    ),
    ("Thank you very much for your help today", "You are welcome. Have a nice evening.", "thank"),
]
"""Said in one go, without a comma or a full stop inside: with the capacity benchmark's fixed
end-of-turn wait, a pause inside a turn would end it."""


def steady_call() -> None:
    """``steady``: an ordinary one-minute call, ambience and thinking sound (capacity)."""
    rng = random.Random(11)
    document = assistant(
        "steady",
        background_sound="audio/office.ogg",
        background_sound_volume=0.5,
        thinking_sound="keyboard-typing.ogg",
        thinking_sound_volume=0.5,
    )
    turns = [{"parts": [said], "answer": answer, "key": key} for said, answer, key in STEADY_TURNS]
    first = GREETING_DELAY + agent_seconds(GREETING) + 1.0
    write_call("steady", document, turns, first_at=first, tail=1.5, rng=rng)


def first_word_call() -> None:
    """``first_word``: greeting at once (no delay), a silent caller who hangs up after it."""
    folder = CALLS / "first_word"
    folder.mkdir(parents=True, exist_ok=True)
    document = assistant("first_word", first_sentence_delay_ms=0)
    noise = np.random.default_rng(1)
    length = 1.0
    signal = noise.normal(0, 10 ** (NOISE_DBFS / 20), int(length * 8000))
    soundfile.write(str(folder / "caller.wav"), signal, 8000, subtype="ULAW")
    files: dict[str, Any] = {
        "call.json": document,
        "stt.json": {"utterances": []},
        "llm.json": {"answers": [{"when": {}, "text": CATCH_ALL}]},
        "caller.json": {"hangup_at": 0.8},
    }
    for file, content in files.items():
        (folder / file).write_text(json.dumps(content, indent=2) + "\n")
    print("first_word: silent caller, hangs up at 0.8 s")


def main() -> None:
    pauses_calls()
    typical_call()
    steady_call()
    first_word_call()


if __name__ == "__main__":
    main()
