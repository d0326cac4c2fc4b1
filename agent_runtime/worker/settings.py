"""What the worker reads from its environment, once, at the start of each job."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr

from ..call.settings import RuntimeSettings
from ..config.sources import ConfigEndpoint

DEFAULT_AGENT_NAME = "agent-runtime"


class WorkerSettings(RuntimeSettings):
    """The runtime settings, and the worker's own.

    ``LIVEKIT_AGENT_NAME``, ``AGENT_REPORT_DIR``, ``AGENT_CALLER_TIMEOUT`` and the config
    endpoint (``AGENT_CONFIG_*``).
    """

    agent_name: str = Field(DEFAULT_AGENT_NAME, alias="LIVEKIT_AGENT_NAME")
    report_dir: Path = Field(Path("reports"), alias="AGENT_REPORT_DIR")
    caller_timeout: float = Field(30.0, gt=0, alias="AGENT_CALLER_TIMEOUT")
    """Seconds a job waits for the SIP participant before giving up."""
    config_url: str | None = Field(None, alias="AGENT_CONFIG_URL")
    """May hold ``{call_id}``; else the id is appended as a path segment."""
    config_token: SecretStr | None = Field(None, alias="AGENT_CONFIG_TOKEN")
    config_timeout: float = Field(5.0, gt=0, alias="AGENT_CONFIG_TIMEOUT")
    config_retries: int = Field(3, ge=0, alias="AGENT_CONFIG_RETRIES")

    @property
    def config_endpoint(self) -> ConfigEndpoint | None:
        """The endpoint that serves call configs by id; None when ``AGENT_CONFIG_URL`` is unset."""
        if self.config_url is None:
            return None
        return ConfigEndpoint(
            url=self.config_url,
            token=self.config_token.get_secret_value() if self.config_token else None,
            timeout=self.config_timeout,
            retries=self.config_retries,
        )
