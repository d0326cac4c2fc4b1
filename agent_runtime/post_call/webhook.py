"""The signed webhook: the call's results POSTed to ``webhook_url``.

Requests are signed per the Standard Webhooks specification (``webhook-id``,
``webhook-timestamp``, ``webhook-signature``) with ``WEBHOOK_SIGNING_SECRET`` (``whsec_...``),
using the ``standardwebhooks`` library; the id is stable per event, so a receiver de-duplicates
retries. Each try is signed anew (receivers refuse old timestamps). The URL goes through the
same egress guard as the custom tools. A 2xx delivers; a timeout, a network error, 408, 425, 429
and 5xx are tried again later (``Retry-After`` honoured); any other answer (410 Gone...) stops.
"""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from typing import Any

import aiohttp
from pydantic import Field, SecretStr, field_validator
from standardwebhooks import Webhook

from ..errors import DeliveryError
from ..integrations.egress import EgressPolicy, EgressRefused, TooManyRedirects, request
from ..log import logger
from ..settings import EnvModel

_RETRY_STATUSES = frozenset({408, 425, 429})
SECRET_PREFIX = "whsec_"
MIN_SECRET_BYTES = 24
"""The Standard Webhooks secrets are 24 to 64 random bytes."""
MAX_ANSWER_BYTES = 16_000


class WebhookSettings(EnvModel):
    """``WEBHOOK_SIGNING_SECRET``, ``WEBHOOK_TIMEOUT`` (s) and ``WEBHOOK_STATUS_EVENTS``."""

    signing_secret: SecretStr | None = Field(None, alias="WEBHOOK_SIGNING_SECRET")
    """The ``whsec_...`` secret the receiver verifies with; unset: requests are not signed."""
    timeout: float = Field(15.0, gt=0, alias="WEBHOOK_TIMEOUT")
    status_events: bool = Field(False, alias="WEBHOOK_STATUS_EVENTS")
    """Also deliver each status change of an attempt (ringing, ongoing...) as its own event."""

    @field_validator("signing_secret")
    @classmethod
    def _usable(cls, secret: SecretStr | None) -> SecretStr | None:
        if secret is None:
            return None
        value = secret.get_secret_value()
        try:
            key = base64.b64decode(value.removeprefix(SECRET_PREFIX), validate=True)
        except ValueError:
            key = b""
        if not value.startswith(SECRET_PREFIX) or len(key) < MIN_SECRET_BYTES:
            raise ValueError(
                f"must be a {SECRET_PREFIX}... secret: {MIN_SECRET_BYTES}+ bytes in base64"
            )
        return secret


def webhook_payload(url: str, event_id: str, event: dict[str, Any]) -> dict[str, Any]:
    """The outbox payload of one event: where it goes, its id and its JSON body."""
    return {"url": url, "id": event_id, "body": json.dumps(event, ensure_ascii=False)}


async def send_webhook(
    payload: dict[str, Any], *, settings: WebhookSettings, policy: EgressPolicy
) -> str:
    """POST one event; ``DeliveryError`` says whether to try again."""
    body = str(payload["body"])
    now = datetime.now(UTC)
    headers = {
        "Content-Type": "application/json",
        "webhook-id": str(payload["id"]),
        "webhook-timestamp": str(int(now.timestamp())),
    }
    if settings.signing_secret is not None:
        signer = Webhook(settings.signing_secret.get_secret_value())
        headers["webhook-signature"] = signer.sign(str(payload["id"]), now, body)
    else:
        logger.warning("webhook sent unsigned: WEBHOOK_SIGNING_SECRET is not set")
    try:
        answer = await request(
            "POST",
            str(payload["url"]),
            policy=policy,
            time_limit=settings.timeout,
            max_bytes=MAX_ANSWER_BYTES,
            headers=headers,
            data=body.encode(),
        )
    except EgressRefused:
        raise DeliveryError("the webhook URL is not allowed", retryable=False) from None
    except TooManyRedirects:
        raise DeliveryError("the webhook redirected too many times", retryable=False) from None
    except TimeoutError:
        raise DeliveryError(f"no answer within {settings.timeout:g} s", retryable=True) from None
    except aiohttp.ClientError as err:
        raise DeliveryError(f"not reached ({type(err).__name__})", retryable=True) from None
    if 200 <= answer.status < 300:
        return f"HTTP {answer.status}"
    retryable = answer.status in _RETRY_STATUSES or answer.status >= 500
    raise DeliveryError(
        f"HTTP {answer.status}", retryable=retryable, retry_after=answer.retry_after
    )
