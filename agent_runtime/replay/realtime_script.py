"""A recorded call's LLM answers (``llm.json``), served to a realtime model.

The same script as a text call's: the realtime stand-in's conversation is matched against each
answer's ``when`` (greeting, ``user_contains``, ``after_tool``) as chat completions requests
are. What the caller said is the recorded transcripts (``stt.json``), released against the
caller audio's playhead as the text call's speech-to-text releases them.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from .llm_server import LLMScript, pick_answer
from .realtime_server import Turn
from .recorded_call import Utterance


class RecordedRealtimeScript:
    """Answers a realtime session from a recorded call's ``llm.json`` and ``stt.json``."""

    def __init__(
        self, script: LLMScript, utterances: Sequence[Utterance], playhead: Callable[[], float]
    ) -> None:
        self._script = script
        self._used: set[int] = set()
        self._pending = sorted(utterances, key=lambda u: u.end + u.delay)
        self._playhead = playhead
        self.answered: list[int | None] = []
        """The index of the answer given to each ``response.create`` (None: none matched)."""

    def heard(self) -> str:
        """The recorded transcripts released since the last caller turn."""
        now = self._playhead()
        released = [u for u in self._pending if u.end + u.delay <= now]
        self._pending = self._pending[len(released) :]
        return " ".join(u.text for u in released)

    def answer(self, conversation: Sequence[dict[str, Any]]) -> Turn:
        """The recorded answer for this moment; an error when none was recorded.

        A caller turn with no recorded words yet (the audio ended a stretch of speech before
        its transcript is due) gets no answer: a text call would not have asked its LLM.
        """
        last = conversation[-1] if conversation else {}
        if last.get("role") == "user" and not last.get("content"):
            return Turn()
        index = pick_answer(self._script, self._used, conversation, [], forced=False)
        self.answered.append(index)
        if index is None:
            return Turn(fail="error")
        answer = self._script.answers[index]
        if answer.hang:
            return Turn(fail="stall")
        if answer.status != 200:
            return Turn(fail="failed")
        if answer.tool_calls:
            call = answer.tool_calls[0]
            return Turn(tool=call.name, arguments=json.dumps(call.arguments))
        return Turn(answer.text)
