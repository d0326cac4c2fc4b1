"""The adapters one call runs on. Each mode (worker, console, replay) builds its own bundle."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..integrations.settings import IntegrationSettings
from ..media.ports import MediaPort
from ..telephony.port import TelephonyPort


@dataclass(frozen=True)
class CallPorts:
    """Media (audio in and out), telephony (the line) and integrations (SMS, Calendly, HTTP)."""

    media: MediaPort
    telephony: TelephonyPort
    integrations: IntegrationSettings = field(default_factory=IntegrationSettings)
