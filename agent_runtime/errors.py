"""The runtime's error tree: every error it raises on purpose, in one place.

```
AgentRuntimeError
├── ConfigError          a call or assistant config is invalid: every problem with its JSON path
├── ConfigFetchError     the config endpoint could not be reached or answered an error
├── SettingsError        an environment variable has a value the runtime cannot use: names it
├── TemplateError        a template cannot be rendered into what it must be (valid JSON)
├── ProviderError        an LLM, STT or TTS provider failed; ``provider`` says which
│   └── ProviderConfigError   a provider cannot be built (a missing key, a missing plugin)
├── TelephonyError       the phone line failed (LiveKit server API, SIP); ``sip_status`` when known
│   ├── DialFailed       an outbound call was not answered; ``dial_error`` says why
│   └── TransferFailed   a transfer did not go through; ``reason`` in words for the caller
├── ServiceError         an integration's HTTP service failed at the transport
│   ├── NotReached       the request surely never reached the service (no effect)
│   └── NoAnswer         it may have reached the service, but no answer came back
├── DeliveryError        an after-call delivery failed; ``retryable`` says if trying later helps
├── ToolError            a tool's action failed; ``message`` holds the words the LLM may see
├── CallEnded            the call ended while one of its actions was still waiting
└── CallNotRun           a call could not start; ``end_reason`` goes into its report
```

Each layer maps the errors of the library it wraps at its own seam (the LiveKit client's
``TwirpError`` in ``telephony``, the framework's provider errors in ``providers``, aiohttp's in
``integrations``), so the layers above only see this tree. No message here ever holds a secret,
a phone number or a transcript.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .config.attempt import DialError


class AgentRuntimeError(Exception):
    """Base of every error the runtime raises on purpose."""


@dataclass(frozen=True)
class Problem:
    """One problem found in a document: where it is and what is wrong, in plain words."""

    path: str
    reason: str

    def __str__(self) -> str:
        return f"{self.path}: {self.reason}"


def _listing(what: str, problems: Sequence[Problem]) -> str:
    lines = "\n".join(f"  - {p}" for p in problems)
    noun = "problem" if len(problems) == 1 else "problems"
    return f"{what} is invalid ({len(problems)} {noun}):\n{lines}"


class ConfigError(AgentRuntimeError):
    """A config document is invalid. ``problems`` lists every problem found, never a secret."""

    def __init__(self, problems: list[Problem], *, source: str = "config") -> None:
        self.problems = problems
        self.source = source
        super().__init__(_listing(source, problems))


class ConfigFetchError(AgentRuntimeError):
    """The config endpoint could not be reached, or answered with an error."""


class SettingsError(AgentRuntimeError):
    """The environment holds values the runtime cannot use; each problem's path is a variable."""

    def __init__(self, problems: list[Problem]) -> None:
        self.problems = problems
        super().__init__(_listing("the environment", problems))


class TemplateError(AgentRuntimeError, ValueError):
    """A template cannot be rendered into what it must be (e.g. valid JSON)."""


class ProviderError(AgentRuntimeError):
    """A provider (LLM, STT, TTS) failed.

    Attributes:
        provider: Which kind failed: ``llm``, ``stt``, ``tts`` or ``session``.
    """

    def __init__(self, message: str, *, provider: str) -> None:
        super().__init__(message)
        self.provider = provider


class ProviderConfigError(ProviderError):
    """A provider plugin cannot be built from the config and the settings."""

    def __init__(self, message: str, *, provider: str = "provider") -> None:
        super().__init__(message, provider=provider)


class TelephonyError(AgentRuntimeError):
    """The phone line failed.

    Attributes:
        sip_status: The SIP status code the far end or the trunk answered, when known (486).
        sip_reason: The SIP reason phrase, when known ("Busy Here").
    """

    def __init__(
        self, message: str, *, sip_status: int | None = None, sip_reason: str | None = None
    ) -> None:
        super().__init__(message)
        self.sip_status = sip_status
        self.sip_reason = sip_reason


class DialFailed(TelephonyError):
    """An outbound call was not answered.

    Attributes:
        dial_error: The API's ``dial_error`` kind (``busy``, ``no_answer``...).
    """

    def __init__(
        self,
        message: str,
        *,
        dial_error: DialError,
        sip_status: int | None = None,
        sip_reason: str | None = None,
    ) -> None:
        super().__init__(message, sip_status=sip_status, sip_reason=sip_reason)
        self.dial_error = dial_error


class TransferFailed(TelephonyError):
    """A transfer of the call did not go through; the caller is still on the line.

    Attributes:
        reason: Why, in a few words fit for the caller (and the LLM): "the line was busy".
    """

    def __init__(
        self,
        message: str,
        *,
        reason: str,
        sip_status: int | None = None,
        sip_reason: str | None = None,
    ) -> None:
        super().__init__(message, sip_status=sip_status, sip_reason=sip_reason)
        self.reason = reason


class ServiceError(AgentRuntimeError):
    """An integration's HTTP service could not be asked (see ``NotReached`` and ``NoAnswer``)."""


class NotReached(ServiceError):
    """The request never reached the service (it surely had no effect)."""


class NoAnswer(ServiceError):
    """The request may have reached the service, but no answer came back in time."""


class DeliveryError(AgentRuntimeError):
    """An after-call delivery (webhook, email, SMS, upload) failed.

    Attributes:
        retryable: True when trying again later may succeed (a network error, a 5xx, a 429).
        retry_after: Seconds the receiver asked to wait (``Retry-After``), when it did.
    """

    def __init__(self, message: str, *, retryable: bool, retry_after: float | None = None) -> None:
        super().__init__(message)
        self.retryable = retryable
        self.retry_after = retry_after


class ToolError(AgentRuntimeError):
    """An action of a tool failed (a text message, a booking).

    Attributes:
        message: Short, plain words the LLM may see (never a secret, number or message text).
        code: A machine-readable kind for the call report, e.g. ``rate_limited``.
        maybe_done: True when the action may have taken effect (a timeout after the request
            was sent): it is then never repeated.
    """

    def __init__(self, message: str, *, code: str, maybe_done: bool = False) -> None:
        super().__init__(message)
        self.message = message
        self.code = code
        self.maybe_done = maybe_done


class AudioDeviceError(AgentRuntimeError):
    """The local microphone or speaker cannot be opened (the console's audio mode)."""


class CallEnded(AgentRuntimeError):
    """The call ended while one of its actions was still waiting: the action was cancelled."""


class CallNotRun(AgentRuntimeError):
    """The call could not start; ``end_reason`` and the message go into its report."""

    def __init__(self, end_reason: str, message: str) -> None:
        super().__init__(message)
        self.end_reason = end_reason
