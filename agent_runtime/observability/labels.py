"""Label values: short words from the runtime's own vocabularies, never data from a call."""

from __future__ import annotations

import re

OTHER = "other"
NONE = "none"
_WORD = re.compile(r"[a-z][a-z_.-]{0,39}")
"""A label value is a lowercase word: no digit (no phone number, no generated id)."""


def label(value: object) -> str:
    """``value`` as a label value: the word (lowercased), ``none``, or ``other``."""
    if value is None:
        return NONE
    text = str(value).lower()
    return text if _WORD.fullmatch(text) else OTHER


def flag(value: object) -> str:
    """A yes/no label value."""
    return "true" if value else "false"
