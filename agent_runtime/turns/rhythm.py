"""How long this caller pauses inside their own turns."""

from __future__ import annotations

from collections import deque

MAX_KEPT = 20
"""Most recent pauses remembered."""
LONGEST_MID_TURN_PAUSE = 3.0
"""A longer silence is no pause inside a turn."""


class CallerRhythm:
    """The pauses a caller made before going on with the same turn."""

    def __init__(self) -> None:
        self._pauses: deque[float] = deque(maxlen=MAX_KEPT)

    def paused(self, seconds: float) -> None:
        """The caller went on after ``seconds`` of silence, within one turn."""
        if 0 < seconds <= LONGEST_MID_TURN_PAUSE:
            self._pauses.append(seconds)

    @property
    def count(self) -> int:
        """How many pauses are known."""
        return len(self._pauses)

    def usual_pause(self) -> float | None:
        """A pause this caller rarely exceeds (the longest of the last few), None if unknown."""
        if not self._pauses:
            return None
        recent = sorted(list(self._pauses)[-5:])
        return recent[-1]
