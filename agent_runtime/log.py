"""The runtime's logger. Never log phone numbers, transcripts or secrets at INFO.

Each line logged during a call carries its ``call_id`` and ``attempt_id`` (see
``observability.log_context``).
"""

import logging

from .observability.log_context import CallFieldsFilter

logger = logging.getLogger("agent_runtime")
logger.addFilter(CallFieldsFilter())
