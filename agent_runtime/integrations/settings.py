"""The settings of every integration a call may use, read once at the edge."""

from __future__ import annotations

from collections.abc import Mapping

from pydantic import Field

from ..settings import EnvModel
from .calendly_settings import CalendlySettings
from .egress import HttpToolSettings
from .sms import SmsLimits
from .twilio import TwilioSettings


def _moved(url: str | None, origins: Mapping[str, str]) -> str | None:
    if url is None:
        return None
    for origin, target in origins.items():
        if url == origin or url.startswith(origin + "/"):
            return target + url[len(origin) :]
    return url


class IntegrationSettings(EnvModel):
    """SMS (Twilio), Calendly and the custom HTTP tools."""

    twilio: TwilioSettings = Field(default_factory=TwilioSettings)
    sms_limits: SmsLimits = Field(default_factory=SmsLimits)
    calendly: CalendlySettings = Field(default_factory=CalendlySettings)
    http_tools: HttpToolSettings = Field(default_factory=HttpToolSettings)

    def moved(self, origins: Mapping[str, str], *, allow: str) -> IntegrationSettings:
        """These settings with every service under one of ``origins`` served from its target.

        ``origins`` maps an origin (``https://api.twilio.com``) to another
        (``http://127.0.0.1:8080``); custom HTTP tools follow through the egress policy, which
        also lets ``allow`` through. Replay uses it to send recorded services to a local server.
        """
        calendly = self.calendly
        tools = self.http_tools
        return self.model_copy(
            update={
                "twilio": self.twilio.model_copy(
                    update={"base_url": _moved(self.twilio.base_url, origins)}
                ),
                "calendly": calendly.model_copy(
                    update={
                        "base_url": _moved(calendly.base_url, origins),
                        "token_url": _moved(calendly.token_url, origins),
                    }
                ),
                "http_tools": tools.model_copy(
                    update={
                        "rewrites": {**tools.rewrites, **origins},
                        "allow": tools.allow | {allow},
                    }
                ),
            }
        )
