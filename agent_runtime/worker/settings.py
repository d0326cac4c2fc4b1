"""What the worker reads from its environment, once, at the start of each job."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

from pydantic import BeforeValidator, Field, SecretStr

from ..call.settings import RuntimeSettings
from ..config.phone import to_e164
from ..config.sources import ConfigEndpoint
from ..observability.settings import ObservabilitySettings
from ..post_call.settings import AfterCallSettings
from ..settings import EnvModel
from .load import LoadSettings

DEFAULT_AGENT_NAME = "agent-runtime"
DEFAULT_DRAIN_TIMEOUT = 2400
"""Seconds a stopping worker lets its calls finish: a call at the default limit (1,800 s) after
the longest ringing (120 s), plus its goodbye (20 s) and after-call steps (300 s), with room to
spare. The deployment's grace period (``terminationGracePeriodSeconds``) must be longer."""


def _number_trunks(value: Any) -> Any:
    if not isinstance(value, str):
        return value
    pairs: dict[str, str] = {}
    for pair in (part.strip() for part in value.split(",")):
        if not pair:
            continue
        number, equals, trunk = pair.partition("=")
        if not equals or not number.strip() or not trunk.strip():
            raise ValueError(f"must be +number=trunk_id pairs separated by commas (got {pair!r})")
        try:
            pairs[to_e164(number.strip())] = trunk.strip()
        except ValueError as err:
            raise ValueError(f"{number.strip()!r} {err}") from None
    return pairs


class TelephonySettings(EnvModel):
    """How the worker places outbound calls.

    ``LIVEKIT_SIP_OUTBOUND_TRUNK`` (the outbound trunk's id), ``LIVEKIT_SIP_OUTBOUND_TRUNKS``
    (``+number=trunk_id`` pairs: the trunk of each caller id) and ``AGENT_RINGING_TIMEOUT``.
    """

    outbound_trunk: str | None = Field(None, alias="LIVEKIT_SIP_OUTBOUND_TRUNK")
    number_trunks: Annotated[dict[str, str], BeforeValidator(_number_trunks)] = Field(
        default_factory=dict, alias="LIVEKIT_SIP_OUTBOUND_TRUNKS"
    )
    ringing_timeout: float = Field(30.0, ge=5, le=120, alias="AGENT_RINGING_TIMEOUT")
    """Seconds an outbound call rings before it counts as not answered (``no_answer``)."""

    def trunk_for(self, caller_id: str | None) -> str | None:
        """The trunk that calls from ``caller_id``: its own, else the default one."""
        if caller_id is not None and caller_id in self.number_trunks:
            return self.number_trunks[caller_id]
        return self.outbound_trunk


class WorkerSettings(RuntimeSettings):
    """The runtime settings, and the worker's own.

    ``LIVEKIT_AGENT_NAME``, ``AGENT_REPORT_DIR``, ``AGENT_CALLER_TIMEOUT``, the config
    endpoint (``AGENT_CONFIG_*``), and how the process runs: ``AGENT_HEALTH_PORT``,
    ``AGENT_DRAIN_TIMEOUT``, ``AGENT_REGISTER_TIMEOUT``, and its load (``LoadSettings``).
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
    health_port: int = Field(8081, ge=0, le=65535, alias="AGENT_HEALTH_PORT")
    """Port of the health server: liveness ``/``, readiness ``/ready`` (0: any free port)."""
    drain_timeout: int = Field(DEFAULT_DRAIN_TIMEOUT, gt=0, alias="AGENT_DRAIN_TIMEOUT")
    """Seconds a stopping worker (SIGTERM) lets its calls finish before it ends them."""
    load: LoadSettings = Field(default_factory=LoadSettings)
    """What the worker's load is measured against (``AGENT_CALLS_PER_CORE``,
    ``AGENT_CPU_LIMIT``): see ``load.WorkerLoad``."""
    register_timeout: float = Field(60.0, gt=0, alias="AGENT_REGISTER_TIMEOUT")
    """Seconds the worker may stay unregistered with LiveKit (at start, or after losing its
    connection) before it gives up and exits (code 3)."""
    telephony: TelephonySettings = Field(default_factory=TelephonySettings)
    after_call: AfterCallSettings = Field(default_factory=AfterCallSettings)
    observability: ObservabilitySettings = Field(default_factory=ObservabilitySettings)
    """``AGENT_METRICS_*`` and the OpenTelemetry exporter (``docs/observability.md``)."""

    @property
    def outbox_path(self) -> Path:
        """The after-call outbox: ``AGENT_OUTBOX_PATH``, else in the report directory."""
        return self.after_call.outbox_path or self.report_dir / "outbox.sqlite3"

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
