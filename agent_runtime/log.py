"""The runtime's logger. Never log phone numbers, transcripts or secrets at INFO."""

import logging

logger = logging.getLogger("agent_runtime")
