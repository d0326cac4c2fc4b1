"""A FIFO of int16 samples that is pushed in chunks of any size and pulled in fixed sizes."""

from __future__ import annotations

from collections import deque

import numpy as np
import numpy.typing as npt

Samples = npt.NDArray[np.int16]


class SampleQueue:
    """Queued mono int16 samples; ``pull`` copies at most what was asked, without Python loops."""

    def __init__(self) -> None:
        self._chunks: deque[Samples] = deque()
        self._head = 0
        self._size = 0

    def __len__(self) -> int:
        return self._size

    def push(self, samples: Samples) -> None:
        """Append samples."""
        if samples.size:
            self._chunks.append(samples)
            self._size += int(samples.size)

    def pull(self, count: int) -> Samples:
        """Remove and return up to ``count`` samples (fewer when the queue runs out)."""
        take = min(count, self._size)
        out = np.empty(take, dtype=np.int16)
        filled = 0
        while filled < take:
            chunk = self._chunks[0]
            available = chunk.size - self._head
            n = min(available, take - filled)
            out[filled : filled + n] = chunk[self._head : self._head + n]
            filled += n
            self._head += n
            if self._head == chunk.size:
                self._chunks.popleft()
                self._head = 0
        self._size -= take
        return out

    def clear(self) -> None:
        """Drop everything."""
        self._chunks.clear()
        self._head = 0
        self._size = 0
