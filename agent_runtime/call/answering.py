"""Who answered the call: the report's ``result``.

Until answering-party detection (voicemail, phone menu, call screener) decides it on outbound
calls, the call itself tells: an inbound call was placed by a person, and an outbound call
reached a person when someone spoke; otherwise nobody is known to have answered.
"""

from __future__ import annotations

from typing import Literal

from ..config.attempt import AttemptResult


def inferred_result(
    direction: Literal["inbound", "outbound"], *, caller_spoke: bool
) -> AttemptResult:
    """The ``result`` a call earns without detection."""
    return "human" if caller_spoke or direction == "inbound" else "unknown"
