"""DTMF keys: which may be sent, how they are paced, and how a caller's keys are collected.

Keys are ``0``-``9``, ``*``, ``#`` and ``A``-``D``; ``w`` is a pause of half a second (as in a
dial string). Sent keys are spaced ``KEY_GAP`` apart, as the framework's own DTMF tool does.
"""

from __future__ import annotations

KEYS = "0123456789*#ABCD"
PAUSE = "w"
KEY_GAP = 0.3
"""Seconds between two keys sent."""
PAUSE_SECONDS = 0.5
"""Seconds a ``w`` waits."""
MAX_KEYS = 64
"""Most keys one request may send (a menu path, an account number and its ``#``)."""


def check_keys(keys: str) -> str:
    """``keys`` without spaces, upper-cased; ``ValueError`` naming a character that is no key."""
    cleaned = "".join(keys.split()).upper().replace(PAUSE.upper(), PAUSE)
    if not cleaned:
        raise ValueError("no key to send")
    if len(cleaned) > MAX_KEYS:
        raise ValueError(f"at most {MAX_KEYS} keys at once")
    for key in cleaned:
        if key not in KEYS and key != PAUSE:
            raise ValueError(f"{key!r} is not a phone key (0-9, *, #, A-D, or w to pause)")
    return cleaned


def key_code(key: str) -> int:
    """The RFC 4733 event code of ``key`` (``*`` is 10, ``#`` 11, ``A``-``D`` 12-15)."""
    return KEYS.index(key)
