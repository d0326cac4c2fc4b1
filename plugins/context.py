"""What a tool plugin is given: the call, the controls it may use, and the integrations."""

from __future__ import annotations

from collections.abc import Coroutine
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

from livekit.agents.voice.speech_handle import SpeechHandle

from agent_runtime.config.spec import CallSpec
from agent_runtime.integrations.settings import IntegrationSettings
from agent_runtime.telephony.port import TelephonyPort

_T = TypeVar("_T")


class Closeable(Protocol):
    """A resource that is closed when the call ends."""

    async def aclose(self) -> None:
        """Release the resource (wait for actions still running)."""
        ...


class CallControl(Protocol):
    """What tools may ask of the running call."""

    def end_after(self, speech: SpeechHandle, *, farewell: str | None) -> None:
        """End the call once ``speech`` is done, with an optional last sentence."""
        ...

    def event(self, type: str, **detail: str | int | float | bool | None) -> None:
        """Record a call event in the report (e.g. an SMS sent, a DTMF tone)."""
        ...

    def own(self, resource: Closeable) -> None:
        """Close ``resource`` when the call ends, before its report is written."""
        ...

    async def until_ended(self, work: Coroutine[Any, Any, _T]) -> _T:
        """Await ``work``; if the call ends first, cancel it and raise ``CallEnded``."""
        ...

    async def transfer(self, to: str) -> None:
        """Say the transfer line, hand the call over to ``to`` and end the agent's part.

        Raises ``TransferFailed`` when the transfer did not go through (the call goes on).
        """
        ...

    async def warm_transfer(self, to: str) -> None:
        """Say the transfer line, put the caller on hold and consult ``to`` meanwhile.

        Returns once the consultation has started; the call then connects the caller to ``to``
        or comes back to them. ``TransferFailed`` when a transfer is already under way.
        """
        ...


@dataclass(frozen=True)
class PluginContext:
    """The call a plugin builds its tools for."""

    spec: CallSpec
    control: CallControl
    telephony: TelephonyPort
    integrations: IntegrationSettings
    """Settings and credentials of the integrations (SMS, Calendly, HTTP tools)."""
