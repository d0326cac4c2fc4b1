"""What a tool plugin is given: the call, and the controls it may use."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

from livekit.agents.voice.speech_handle import SpeechHandle

from ..config.spec import CallSpec
from ..media.ports import TelephonyPort


class CallControl(Protocol):
    """What tools may ask of the running call."""

    def end_after(self, speech: SpeechHandle, *, farewell: str | None) -> None:
        """End the call once ``speech`` is done, with an optional last sentence."""
        ...

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record a call event in the report (e.g. an SMS sent, a DTMF tone)."""
        ...


@dataclass(frozen=True)
class PluginContext:
    """The call a plugin builds its tools for."""

    spec: CallSpec
    control: CallControl
    telephony: TelephonyPort
    env: Mapping[str, str] = field(default_factory=dict)
    """Settings and credentials of the integrations, e.g. ``TWILIO_ACCOUNT_SID``."""
