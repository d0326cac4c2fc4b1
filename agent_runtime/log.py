"""The runtime's logger. Never log phone numbers, transcripts or secrets at INFO.

Each line of a call carries the call's ids (``call_id``, ``attempt_id``). They live in a
context variable, set for as long as the call runs (``call_fields``): every task the call
starts inherits them, and ``CallFieldsFilter`` (on this logger) stamps them on each record, as
attributes that the framework's JSON log handler prints as fields. In the worker, the job also
hands them to the framework (``JobContext.log_context_fields``), which stamps them on the
framework's own lines.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator, MutableMapping
from contextvars import ContextVar

_CALL_FIELDS: ContextVar[MutableMapping[str, object] | None] = ContextVar(
    "agent_runtime_call_fields", default=None
)


@contextlib.contextmanager
def call_fields(fields: MutableMapping[str, object]) -> Iterator[MutableMapping[str, object]]:
    """Stamp ``fields`` on the log lines of this context.

    The mapping is read at each line: a field added later shows from then on.
    """
    token = _CALL_FIELDS.set(fields)
    try:
        yield fields
    finally:
        _CALL_FIELDS.reset(token)


def current_call_fields() -> dict[str, object]:
    """The fields of the call running in this context (empty outside a call)."""
    fields = _CALL_FIELDS.get()
    return {name: value for name, value in (fields or {}).items() if value is not None}


class CallFieldsFilter(logging.Filter):
    """Adds the current call's fields to a record (never over one it already has)."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Stamp the fields; never drops a record."""
        for name, value in current_call_fields().items():
            if not hasattr(record, name):
                setattr(record, name, value)
        return True


logger = logging.getLogger("agent_runtime")
logger.addFilter(CallFieldsFilter())
