"""Keys the person on the line presses reach the conversation as one caller turn.

Keys are collected until ``#`` or a pause of ``PAUSE`` seconds, then given to the LLM as what
the caller said (``Keys pressed: 4711#``): an account number typed on the keypad is one turn,
in the transcript like speech, and a ``keys_received`` event in the report. Keys the agent's side
sends are a ``keys_sent`` event.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

from livekit.agents import AgentSession

from ..telephony.dtmf import PAUSE as PAUSE_KEY

PAUSE = 2.0
"""Seconds without a key after which the keys pressed so far are one turn."""
END_KEY = "#"


def keys_turn(keys: str) -> str:
    """The caller turn that stands for ``keys``."""
    return f"Keys pressed: {keys}"


class KeyCollector:
    """Gathers a caller's keys into turns of the session."""

    def __init__(
        self,
        session: AgentSession,
        *,
        active: Callable[[], bool],
        event: Callable[..., None],
    ) -> None:
        self._session = session
        self._active = active
        self._event = event
        self._keys = ""
        self._timer: asyncio.TimerHandle | None = None

    def press(self, key: str) -> None:
        """One key the caller pressed (the telephony port's key listener)."""
        if not self._active():
            return
        self._keys += key
        self._cancel_timer()
        if key == END_KEY:
            self._flush()
        else:
            self._timer = asyncio.get_running_loop().call_later(PAUSE, self._flush)

    def sent(self, keys: str) -> None:
        """Keys the agent's side sent down the line: a ``keys_sent`` event (how many, not which).

        The keys themselves are in the transcript, as the arguments of the tool that sent them.
        """
        self._event("keys_sent", count=sum(key != PAUSE_KEY for key in keys))

    def _flush(self) -> None:
        self._timer = None
        keys, self._keys = self._keys, ""
        if not keys or not self._active():
            return
        self._event("keys_received", count=len(keys))
        with contextlib.suppress(RuntimeError):  # nothing to interrupt
            self._session.interrupt()
        with contextlib.suppress(RuntimeError):  # the session is closing
            self._session.generate_reply(user_input=keys_turn(keys))

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def close(self) -> None:
        """Drop keys not yet handed over (the call is ending)."""
        self._cancel_timer()
        self._keys = ""
