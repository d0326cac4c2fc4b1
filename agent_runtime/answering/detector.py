"""Who answered an outbound call, decided from the first seconds of the callee's side.

The signals, cheapest first:

- a beep (``beep.BeepDetector`` on the audio, which no transcript sees): a voicemail;
- the words of the transcript (``cues``): a full mailbox, a call screener, a phone menu or a
  voicemail greeting, whatever the timing;
- the greeting's rhythm: a short first utterance (``human_speech`` seconds at most) with words
  in it, followed by ``human_silence`` seconds of silence, with no machine cue, is a person
  ("Hello?"); a sound with no word in it (music, a click) is no greeting;
- for a longer greeting without a cue, once it is over (``machine_silence`` seconds of
  silence), the LLM classifier; without one, or when it cannot tell, a person (a person is
  never taken for a machine on rhythm alone, nor left waiting on a classifier);
- no speech for ``no_speech`` seconds, or no decision in ``timeout`` seconds: unknown.

A person (or nobody) decided without a machine's words may be revised within ``revise_within``
seconds, when the words that arrive next are a machine's ("Hi, this is Sam... please leave a
message"), or a beep.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Coroutine
from dataclasses import dataclass
from typing import Any, Literal

from ..config.attempt import AttemptResult
from .cues import Cue, cue_of

Kind = Literal["human", "voicemail", "mailbox_full", "ivr", "screener", "unknown"]
Classify = Callable[[str], Coroutine[Any, Any, Kind | None]]
"""Asks a model who said ``transcript``; None when it cannot tell."""

RESULT_OF: dict[Kind, AttemptResult] = {
    "human": "human",
    "voicemail": "voicemail",
    "mailbox_full": "voicemail",
    "ivr": "IVR",
    "screener": "ios-screening-filter",
    "unknown": "unknown",
}
"""The report's ``result`` for each kind of answer."""

_KIND_OF_CUE: dict[Cue, Kind] = {
    "mailbox_full": "mailbox_full",
    "screener": "screener",
    "ivr": "ivr",
    "voicemail": "voicemail",
}

_AT_ONCE: frozenset[Cue] = frozenset({"mailbox_full", "screener", "ivr"})
"""Cues decisive as soon as they are heard; a voicemail's words wait for its greeting to end
(a menu may start with "we are not available" and go on with "press 1")."""


@dataclass(frozen=True)
class DetectionOptions:
    """Thresholds of the decision, in seconds."""

    human_speech: float = 2.5
    human_silence: float = 0.5
    machine_silence: float = 1.0
    no_speech: float = 4.0
    timeout: float = 20.0
    revise_within: float = 8.0
    words_wait: float = 0.6
    """Longest wait for the words of a short utterance after ``human_silence``."""


@dataclass(frozen=True)
class Verdict:
    """Who answered, why it was decided, and when."""

    kind: Kind
    reason: str
    """``beep``, ``words``, ``short_greeting``, ``llm``, ``unclassified``, ``no_cue``,
    ``no_speech`` or ``timeout``."""
    at: float
    """Wall time of the decision."""
    transcript: str
    """What the callee had said by then."""

    @property
    def machine(self) -> bool:
        """True for a voicemail, a full mailbox, a menu or a screener."""
        return self.kind not in ("human", "unknown")


class AnsweringDetector:
    """Decides who answered from speech timing, transcripts and beeps; a verdict, maybe revised.

    Fed by the call (``speech_started``, ``speech_ended``, ``transcribed``, ``beeped``) from the
    answer on (``start``); ``on_verdict`` is called with the verdict, and once more if a person
    decided on rhythm turns out to be a machine.
    """

    def __init__(
        self,
        *,
        on_verdict: Callable[[Verdict], None],
        classify: Classify | None,
        spawn: Callable[[Coroutine[Any, Any, None]], object],
        options: DetectionOptions | None = None,
    ) -> None:
        self._on_verdict = on_verdict
        self._classify = classify
        self._spawn = spawn
        self._options = options or DetectionOptions()
        self._verdict: Verdict | None = None
        self._revisable = False
        self._started_at = 0.0
        self._segment_start: float | None = None
        self._segments = 0
        self._speaking = False
        self._words = False
        self._waited_for_words = False
        self._transcript: list[str] = []
        self._timers: dict[str, asyncio.TimerHandle] = {}
        self._asked: str | None = None

    @property
    def revisable(self) -> bool:
        """True while the verdict given may still turn into a machine."""
        return self._revisable

    @property
    def transcript(self) -> str:
        """What the callee has said so far."""
        return " ".join(self._transcript)

    def start(self) -> None:
        """The call was answered: the no-speech and decision clocks start."""
        self._started_at = time.time()
        self._later("no_speech", self._options.no_speech, self._no_speech)
        self._later("deadline", self._options.timeout, self._timed_out)

    def close(self) -> None:
        """Stop deciding (the call is ending)."""
        self._cancel("no_speech", "deadline", "silence", "revise")
        self._revisable = False

    # -- the signals ---------------------------------------------------------------------------

    def speech_started(self) -> None:
        """The callee started speaking."""
        if self._verdict is not None:
            return
        self._cancel("no_speech", "silence")
        self._segment_start = time.time()
        self._speaking = True

    def speech_ended(self, *, silence: float) -> None:
        """The callee stopped speaking ``silence`` seconds ago (the VAD's lag)."""
        if self._verdict is not None or self._segment_start is None:
            return
        ended = time.time() - silence
        length = ended - self._segment_start
        self._segments += 1
        self._speaking = False
        self._waited_for_words = False
        options = self._options
        if self._segments == 1 and length <= options.human_speech:
            self._later(
                "silence", ended + options.human_silence - time.time(), self._short_greeting
            )
        else:
            self._later(
                "silence", ended + options.machine_silence - time.time(), self._greeting_over
            )

    def heard_words(self) -> None:
        """An interim transcript: the callee's sound has words in it."""
        self._words = True

    def transcribed(self, text: str) -> None:
        """A final transcript of the callee."""
        if not text.strip():
            return
        self._words = True
        self._transcript.append(text.strip())
        if self._revisable and self._verdict is not None:
            self._revise()
        elif self._verdict is None:
            cue = cue_of(self.transcript)
            if cue is not None and cue in _AT_ONCE:
                self._decide(_KIND_OF_CUE[cue], "words")

    def beeped(self) -> None:
        """A beep ended on the line: a voicemail (a full mailbox if its words said so)."""
        if self._verdict is not None and not self._revisable:
            return
        cue = cue_of(self.transcript)
        self._decide("mailbox_full" if cue == "mailbox_full" else "voicemail", "beep", force=True)

    # -- the decisions -------------------------------------------------------------------------

    def _timed_out(self) -> None:
        self._decide("unknown", "timeout")

    def _no_speech(self) -> None:
        if self._segment_start is None:
            self._decide("unknown", "no_speech")

    def _short_greeting(self) -> None:
        cue = cue_of(self.transcript)
        if cue is not None:
            self._decide(_KIND_OF_CUE[cue], "words")
            return
        if not self._words:
            if not self._waited_for_words:  # its words may still be on their way
                self._waited_for_words = True
                self._later("silence", self._options.words_wait, self._short_greeting)
            else:
                self._no_greeting()
            return
        self._decide("human", "short_greeting")

    def _greeting_over(self) -> None:
        cue = cue_of(self.transcript)
        if cue is not None:
            self._decide(_KIND_OF_CUE[cue], "words")
        elif not self._transcript:  # its words are still on their way: wait for them
            self._later("silence", self._options.machine_silence, self._greeting_over)
        elif self._classify is None:
            self._decide("human", "no_cue")
        elif self._asked != self.transcript:
            self._asked = self.transcript
            self._spawn(self._ask(self.transcript))

    async def _ask(self, transcript: str) -> None:
        assert self._classify is not None
        kind = await self._classify(transcript)
        if self._verdict is not None or self._asked != transcript:
            return  # decided meanwhile, or more was said and asked again
        cue = cue_of(self.transcript)
        if cue is not None:
            self._decide(_KIND_OF_CUE[cue], "words")
        elif kind is not None and kind != "unknown":
            self._decide(kind, "llm")
        elif not self._speaking:  # it cannot tell, and the callee waits: a person
            self._decide("human", "unclassified")

    def _no_greeting(self) -> None:
        """The sound heard had no words (music, a click): as if nothing had been said."""
        self._segments = 0
        self._segment_start = None
        left = self._options.no_speech - (time.time() - self._started_at)
        self._later("no_speech", left, self._no_speech)

    def _revise(self) -> None:
        cue = cue_of(self.transcript)
        if cue is not None:
            self._decide(_KIND_OF_CUE[cue], "words", force=True)

    def _stop_revising(self) -> None:
        self._revisable = False

    def _decide(self, kind: Kind, reason: str, *, force: bool = False) -> bool:
        """Give the verdict; True if it was given (a verdict stands unless revisable)."""
        if self._verdict is not None and not (force and self._revisable):
            return False
        self._cancel("no_speech", "deadline", "silence", "revise")
        self._verdict = Verdict(kind, reason, time.time(), self.transcript)
        # a person or nobody, decided without a machine's words, may yet turn out a machine
        self._revisable = not self._verdict.machine and reason != "timeout"
        if self._revisable:
            self._later("revise", self._options.revise_within, self._stop_revising)
        self._on_verdict(self._verdict)
        return True

    # -- timers --------------------------------------------------------------------------------

    def _later(self, name: str, delay: float, action: Callable[[], None]) -> None:
        self._cancel(name)
        loop = asyncio.get_running_loop()
        self._timers[name] = loop.call_later(max(0.0, delay), action)

    def _cancel(self, *names: str) -> None:
        for name in names:
            timer = self._timers.pop(name, None)
            if timer is not None:
                timer.cancel()
