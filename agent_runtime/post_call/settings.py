"""What the steps after the call read from the environment."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field

from ..settings import EnvModel
from .email import EmailSettings
from .recordings import RecordingStorageSettings
from .webhook import WebhookSettings


class AfterCallSettings(EnvModel):
    """The webhook, the email, the recordings' storage, and the steps' own limits.

    ``AFTER_CALL_LLM_TIMEOUT`` bounds each LLM step (seconds); ``AGENT_OUTBOX_PATH`` is the
    outbox's SQLite file (default: ``outbox.sqlite3`` in the report directory).
    """

    webhook: WebhookSettings = Field(default_factory=WebhookSettings)
    email: EmailSettings = Field(default_factory=EmailSettings)
    recordings: RecordingStorageSettings = Field(default_factory=RecordingStorageSettings)
    llm_timeout: float = Field(20.0, gt=0, le=300, alias="AFTER_CALL_LLM_TIMEOUT")
    outbox_path: Path | None = Field(None, alias="AGENT_OUTBOX_PATH")
