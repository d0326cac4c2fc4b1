"""Words that tell a machine from a person: what voicemail, menus and screeners say.

A cue is decisive only for a machine: a person's greeting has no fixed wording, so "no cue" is
never proof of a person (the detector's timing and the LLM decide that). When a text holds cues
of several kinds, the most specific wins: a full mailbox, then a screener, then a menu, then a
voicemail greeting (menus and screeners often also say "not available").
"""

from __future__ import annotations

import re
from typing import Literal

Cue = Literal["mailbox_full", "screener", "ivr", "voicemail"]

_NUMBER = r"(?:\d|zero|one|two|three|four|five|six|seven|eight|nine|star|pound|hash)"

_WORDS: tuple[tuple[Cue, tuple[str, ...]], ...] = (
    (
        "mailbox_full",
        (
            r"mail ?box (?:is |was )?(?:full|not (?:been )?set ?up)",
            r"(?:mail ?box|voice ?mail) (?:that |which )?(?:has|have) not (?:been )?set ?up",
            r"(?:has|have) not (?:yet )?set ?up (?:a |their |his |her )?"
            r"(?:voice ?mail|mail ?box)",
            r"(?:cannot|can not|can't|unable to|not able to) (?:accept|take|receive|record) "
            r"(?:any )?(?:more |new |further )?(?:messages|voice ?mails)",
            r"mail ?box (?:is )?(?:full|unavailable)",
        ),
    ),
    (
        "screener",
        (
            r"screening (?:service|call|this call)",
            r"call screen",
            r"(?:say|state|record|tell me) your name",
            r"(?:name and|the) (?:reason|purpose) (?:for|of) (?:your |the )?call",
            r"why (?:you're|you are) calling",
            r"(?:see|check) if (?:this|the) person is available",
            r"google assistant",
            r"stay on the line (?:while|and) i",
        ),
    ),
    (
        "ivr",
        (
            rf"\bpress(?:ing)? (?:the )?{_NUMBER}",
            rf"\bdial {_NUMBER}",
            rf"\b(?:say|enter) (?:or press )?{_NUMBER}\b",
            r"\b(?:menu|following) options\b",
            r"\bmain menu\b",
            r"\blisten carefully\b",
            r"\bextension\b",
            r"\bfor (?:english|spanish|español)\b",
        ),
    ),
    (
        "voicemail",
        (
            r"leave (?:a |your |me a |us a )?(?:brief |short |detailed |quick )?"
            r"(?:message|name|number|voice ?mail)",
            r"(?:after|at) the (?:tone|beep)",
            r"voice ?mail",
            r"(?:record|leave) your message",
            r"\b(?:is|am|are|is currently|am currently) (?:not available|unavailable)",
            r"can(?:'t|not| not) (?:come to|take|get to|answer) (?:the )?(?:phone|your call)",
            r"missed your call",
            r"get back to you",
            r"not available to take",
            r"away from (?:my|the) (?:desk|phone)",
            r"please record",
            r"mail ?box",
        ),
    ),
)
_PATTERNS = tuple((cue, re.compile("|".join(words))) for cue, words in _WORDS)

_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'"})


def normalized(text: str) -> str:
    """``text`` lower-cased, with straight apostrophes and single spaces."""
    return " ".join(text.translate(_APOSTROPHES).lower().split())


def cue_of(text: str) -> Cue | None:
    """The most specific machine cue in ``text``, or None."""
    words = normalized(text)
    for cue, pattern in _PATTERNS:
        if pattern.search(words):
            return cue
    return None
