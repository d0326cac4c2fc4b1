"""Why an outbound call was not answered: the SIP status of the failure as a ``dial_error``.

| SIP status (or cause) | ``dial_error`` |
|---|---|
| 404, 484, 410, 604 | ``number_non_attributed`` |
| 486, 600 | ``busy`` |
| 408, 480, 487, and the ringing timeout | ``no_answer`` |
| 403, and any refusal naming international calls | ``no_international_permission`` |
| 500, 502, 503 | ``temporarily_unavailable`` |
| 429, and any refusal naming the trunk's concurrency | ``too_many_calls`` |
| 412, 428, 421 | ``precondition_failed`` |
| anything else | ``non_classified_error`` |

The same table serves the LiveKit adapter (the ``sip_status_code`` of the server's error) and a
replayed call (the status its ``phone.json`` gives).
"""

from __future__ import annotations

from ..config.attempt import DialError

DIAL_ERRORS: dict[int, DialError] = {
    404: "number_non_attributed",
    484: "number_non_attributed",
    410: "number_non_attributed",
    604: "number_non_attributed",
    486: "busy",
    600: "busy",
    408: "no_answer",
    480: "no_answer",
    487: "no_answer",
    403: "no_international_permission",
    500: "temporarily_unavailable",
    502: "temporarily_unavailable",
    503: "temporarily_unavailable",
    429: "too_many_calls",
    412: "precondition_failed",
    428: "precondition_failed",
    421: "precondition_failed",
}
"""The ``dial_error`` of each SIP final response that ends a call attempt."""

_BY_WORDS: tuple[tuple[tuple[str, ...], DialError], ...] = (
    (("international",), "no_international_permission"),
    (("concurren", "too many calls", "max calls", "call limit"), "too_many_calls"),
)


def dial_error_of(sip_status: int | None, reason: str | None = None) -> DialError:
    """The ``dial_error`` of a failed dial, from its SIP status and its reason phrase."""
    words = (reason or "").lower()
    for needles, kind in _BY_WORDS:
        if any(needle in words for needle in needles):
            return kind
    if sip_status is not None and sip_status in DIAL_ERRORS:
        return DIAL_ERRORS[sip_status]
    return "non_classified_error"


def refusal_words(sip_status: int | None, reason: str | None = None) -> str:
    """Why a transfer did not go through, in words the caller can be told."""
    if sip_status is None and reason is not None and "TIMEOUT" in reason.upper():
        return "nobody answered"
    match dial_error_of(sip_status, reason):
        case "busy":
            return "the line was busy"
        case "no_answer":
            return "nobody answered"
        case "number_non_attributed":
            return "the number could not be reached"
        case "no_international_permission" | "precondition_failed":
            return "the phone network did not allow it"
        case "temporarily_unavailable" | "too_many_calls":
            return "the phone network is busy right now"
    return "the phone network refused it"
