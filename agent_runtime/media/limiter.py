"""The soft limiter at the end of the mix: loud sums bend smoothly below full scale.

Below ``KNEE`` the signal passes untouched (bit for bit); above it a tanh curve, with slope 1 at
the knee, approaches ``CEILING`` without reaching it. So voice, ambient and thinking sound at
full volume never hard-clip, and the int16 conversion can never wrap around.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

KNEE = 0.9
"""Level (of full scale) up to which the limiter does nothing."""
CEILING = 0.99
"""Level the limiter's output approaches and never exceeds (about -0.1 dBFS)."""


def soft_limit(mix: npt.NDArray[np.float32]) -> None:
    """Limit ``mix`` (floats, 1.0 = full scale) in place."""
    magnitude = np.abs(mix)
    if magnitude.max(initial=0.0) <= KNEE:  # the usual case: one pass, nothing to bend
        return
    over = magnitude > KNEE
    span = np.float32(CEILING - KNEE)
    bent = KNEE + span * np.tanh((magnitude[over] - np.float32(KNEE)) / span)
    mix[over] = np.copysign(bent, mix[over]).astype(np.float32)
