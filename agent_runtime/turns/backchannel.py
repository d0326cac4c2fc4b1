"""Backchannels ("mm-hm", "yeah", "okay") while the agent speaks: heard, not a new turn.

A caller's "mm-hm" over the agent's sentence says "go on". Left to the framework, its final
transcript would interrupt the agent and start a turn that the agent answers. The filter
holds such transcripts back while the agent is in the middle of its speech (playing or
paused for the caller's sound), so the speech goes on. One said in the last moments of a
question ("...on Tuesday?" "Yes.") is the answer to it: it is answered once the question
has been said.

When the session holds the agent's voice at the caller's first sound (interruption by sound
alone), the filter also says, word by word, whether that sound only acknowledges: the voice
then goes on as soon as the sound is over, instead of after the session's
false-interruption timeout.
"""

from __future__ import annotations

import contextlib
import time
from collections.abc import AsyncIterable, AsyncIterator, Callable

from livekit.agents import AgentSession, llm, stt
from livekit.agents.voice.events import ConversationItemAddedEvent, UserStateChangedEvent

from .words import tokens, word_set

_WORDS = word_set(
    "mm-hm mhm mm hmm uh-huh um-hum yeah yes yep yup okay ok right sure alright cool great",
    "nice good wow oh ah uh huh fine gotcha true exactly absolutely definitely certainly",
    "totally perfect excellent awesome understood indeed",
)
ACKNOWLEDGEMENTS = frozenset((word,) for word in _WORDS) | frozenset(
    tuple(phrase.split())
    for phrase in (
        "all right",
        "of course",
        "for sure",
        "got it",
        "got you",
        "i see",
        "i understand",
        "makes sense",
        "that makes sense",
        "sounds good",
        "sounds great",
        "that sounds good",
        "that sounds great",
        "fair enough",
        "that's right",
        "that's true",
        "that's fine",
        "that's good",
        "that's great",
        "go on",
        "go ahead",
        "no problem",
        "no worries",
    )
)
"""What only acknowledges, a word or a phrase: the continuers and acknowledgement tokens of
English conversation. A phrase counts whole: "no problem" acknowledges, "no" does not, and
"i" or "that's" alone say nothing yet."""
MAX_WORDS = 6
"""A longer utterance says something."""
ANSWER_WINDOW = 1.5
"""A backchannel this close to the end of the agent's question answers it."""
LATE_WORDS = 1.5
"""Seconds after the end of a caller's sound during which its transcripts may still arrive
(a streaming STT's final transcript comes 0.3-1.5 s after the speech)."""
REPEATS = 3
"""The same word this many times in a row ("okay okay okay") is impatience, not a go-on."""
_LONGEST = max(len(phrase) for phrase in ACKNOWLEDGEMENTS)

SttItem = stt.SpeechEvent | str


def is_backchannel(text: str) -> bool:
    """True when ``text`` only acknowledges ("Mm-hm.", "yeah okay", "Oh, that makes sense.")."""
    words = tokens(text)
    repeated = any(len(set(words[i : i + REPEATS])) == 1 for i in range(len(words) - REPEATS + 1))
    return 0 < len(words) <= MAX_WORDS and not repeated and _acknowledgements_only(tuple(words))


def _acknowledgements_only(words: tuple[str, ...]) -> bool:
    """True when ``words`` are acknowledgements one after another, with nothing else."""
    ends = {0}  # the word positions a run of acknowledgements reaches
    for start in range(len(words)):
        if start in ends:
            for length in range(1, min(_LONGEST, len(words) - start) + 1):
                if words[start : start + length] in ACKNOWLEDGEMENTS:
                    ends.add(start + length)
    return len(words) in ends


class BackchannelFilter:
    """Holds back backchannel transcripts said while the agent speaks."""

    def __init__(
        self,
        mid_speech: Callable[[], bool],
        *,
        answer: Callable[[str], None],
        event: Callable[..., None],
        acknowledging: Callable[[bool], None],
    ) -> None:
        """Hold back what ``mid_speech`` says is said over the agent's speech.

        ``answer``: reply to a held word that answered the agent's question; ``event``:
        record a report event; ``acknowledging``: told, at each transcript over the agent's
        speech, whether the caller's words so far only acknowledge it.
        """
        self._mid_speech = mid_speech
        self._answer = answer
        self._event = event
        self._acknowledging = acknowledging
        self._held: tuple[str, float] | None = None

    async def filter(self, events: AsyncIterable[SttItem]) -> AsyncIterator[SttItem]:
        """``events``, without the backchannels said over the agent."""
        async for ev in events:
            if self.holds(ev):
                continue
            yield ev

    def holds(self, ev: SttItem) -> bool:
        """True when ``ev`` is a backchannel over the agent's speech (and is held back)."""
        if not isinstance(ev, stt.SpeechEvent) or not ev.alternatives:
            return False
        if ev.type not in (
            stt.SpeechEventType.FINAL_TRANSCRIPT,
            stt.SpeechEventType.INTERIM_TRANSCRIPT,
        ):
            return False
        text = ev.alternatives[0].text
        if not self._mid_speech():
            return False
        if not is_backchannel(text):
            if tokens(text):
                self._acknowledging(False)
            return False
        self._acknowledging(True)
        if ev.type is stt.SpeechEventType.FINAL_TRANSCRIPT:
            self._held = (text, time.time())
            self._event("backchannel")
        return True

    def agent_said(self, text: str, *, at: float) -> None:
        """The agent's speech ended with ``text`` at ``at``: a held "yes" may answer it."""
        held, self._held = self._held, None
        if held is None or not text.rstrip().endswith("?"):
            return
        words, heard_at = held
        if at - heard_at <= ANSWER_WINDOW:
            self._answer(words)


class AcknowledgedSound:
    """Lets the agent's held voice go on once the caller's sound ended as an acknowledgement.

    With interruption by sound (``min_words`` 0) the framework holds (pauses) the agent's
    voice at the caller's first sound, before any word is known, and resumes it only
    ``false_interruption_timeout`` after the caller falls silent. When the sound is over and
    its words only acknowledge the agent, the voice goes on now. Not before it is over:
    "Okay, but wait" starts as an acknowledgement.

    Only for a sound that began ``LATE_WORDS`` or more after the caller's previous one ended:
    until then, the transcripts that arrive may still be the earlier sound's (a slow STT's
    "Yeah." read while the caller goes on with "Hi, where is..."), and nothing reliably tells
    whose they are. Such a sound is left to the framework's timeout.
    """

    def __init__(self, resume: Callable[[], None], *, clock: Callable[[], float] = time.time):
        """``resume``: let the held voice go on; ``clock``: the time, in seconds."""
        self._resume = resume
        self._clock = clock
        self._speaking = False
        self._acknowledges = False
        self._ended: float | None = None
        """When the caller's latest sound ended."""
        self._words_are_its = True
        """The transcripts that arrive now are the latest sound's own."""

    def words(self, acknowledges: bool) -> None:
        """The caller's words so far only acknowledge the agent, or not."""
        self._acknowledges = acknowledges
        if acknowledges and not self._speaking and self._words_are_its:
            self._resume()

    def speaking(self, speaking: bool) -> None:
        """The caller's sound started (a new one, undecided) or ended."""
        self._speaking = speaking
        now = self._clock()
        if speaking:
            self._acknowledges = False
            self._words_are_its = self._ended is None or now - self._ended >= LATE_WORDS
            return
        self._ended = now
        if self._acknowledges and self._words_are_its:
            self._resume()


def session_backchannels(session: AgentSession, *, event: Callable[..., None]) -> BackchannelFilter:
    """The backchannel filter of ``session``'s caller, following its speech and messages.

    A held voice goes on as soon as the caller's sound has ended as a backchannel
    (``AcknowledgedSound``). It is resumed through the session's output chain, so the
    transcript synchroniser keeps pace with what is heard.
    """

    def resume() -> None:
        audio = session.output.audio
        if audio is not None:
            audio.resume()

    sound = AcknowledgedSound(resume)

    def mid_speech() -> bool:
        speech = session.current_speech
        return speech is not None and not speech.done() and not speech.interrupted

    def answer(text: str) -> None:
        with contextlib.suppress(RuntimeError):  # the session is closing
            session.generate_reply(user_input=text)

    backchannels = BackchannelFilter(
        mid_speech, answer=answer, event=event, acknowledging=sound.words
    )

    def on_user_state(ev: UserStateChangedEvent) -> None:
        sound.speaking(ev.new_state == "speaking")

    def on_item(ev: ConversationItemAddedEvent) -> None:
        item = ev.item
        if isinstance(item, llm.ChatMessage) and item.role == "assistant":
            backchannels.agent_said(item.text_content or "", at=time.time())

    session.on("conversation_item_added", on_item)
    session.on("user_state_changed", on_user_state)
    return backchannels
