"""Call recordings in S3-compatible storage (AWS S3, MinIO, R2...): key, upload and URL.

A recording is stored under ``object_key`` (``<prefix><call id>/<attempt id>.wav``), sent by
``upload`` (boto3, in a thread) and shared by ``recording_url``: a presigned GET URL, or the
plain object URL for a public bucket. With ``RECORDINGS_S3_ENDPOINT_URL`` set, URLs are
path-style (``<endpoint>/<bucket>/<key>``); on AWS they are virtual-hosted
(``https://<bucket>.s3.amazonaws.com/<key>``, as botocore builds them).

Environment variables (``RecordingStorageSettings``):

- ``RECORDINGS_S3_BUCKET``: the bucket; unset, recordings stay local.
- ``RECORDINGS_S3_PREFIX``: put before every key (default ``recordings/``; empty: none).
- ``RECORDINGS_S3_ENDPOINT_URL``: an S3-compatible server (MinIO, R2...); unset: AWS.
- ``RECORDINGS_S3_REGION``: the region (default ``us-east-1``).
- ``RECORDINGS_S3_ACCESS_KEY_ID`` and ``RECORDINGS_S3_SECRET_ACCESS_KEY``: both or neither;
  unset, boto3's default credential chain (environment, profile, instance role).
- ``RECORDINGS_URL_EXPIRY``: seconds a presigned URL is valid (default and most: 604800, 7
  days; a URL signed with temporary credentials ends with them); 0: the plain object URL.

A failed upload is a ``DeliveryError``: retryable when the storage could not be reached, failed
(5xx) or throttled us; not retryable for a missing bucket, refused credentials or a missing
file. Its message holds the storage's error code, never a credential.
"""

from __future__ import annotations

import asyncio
import re
from contextlib import closing
from pathlib import Path
from typing import Any, Self

import boto3
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
)
from botocore.exceptions import ConnectionError as EndpointUnreachable
from pydantic import Field, SecretStr, field_validator, model_validator

from ..errors import DeliveryError
from ..settings import EnvModel

MAX_URL_EXPIRY = 604800
"""Seven days: the longest a presigned (SigV4) URL may be valid."""
CONTENT_TYPE = "audio/wav"
MAX_KEY_PART = 200
"""The most characters kept of a call or attempt id in a key."""

_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_RETRYABLE_CODES = frozenset(
    {"SlowDown", "Throttling", "ThrottlingException", "RequestThrottled", "RequestTimeout"}
)


class RecordingStorageSettings(EnvModel):
    """Where recordings are stored (see the module for the variables)."""

    KEEP_EMPTY = frozenset({"RECORDINGS_S3_PREFIX"})

    bucket: str | None = Field(None, alias="RECORDINGS_S3_BUCKET")
    prefix: str = Field("recordings/", alias="RECORDINGS_S3_PREFIX")
    endpoint_url: str | None = Field(None, alias="RECORDINGS_S3_ENDPOINT_URL")
    region: str = Field("us-east-1", alias="RECORDINGS_S3_REGION")
    access_key_id: SecretStr | None = Field(None, alias="RECORDINGS_S3_ACCESS_KEY_ID")
    secret_access_key: SecretStr | None = Field(None, alias="RECORDINGS_S3_SECRET_ACCESS_KEY")
    url_expiry: int = Field(MAX_URL_EXPIRY, ge=0, le=MAX_URL_EXPIRY, alias="RECORDINGS_URL_EXPIRY")

    @field_validator("endpoint_url")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must be an http:// or https:// URL")
        return value

    @model_validator(mode="after")
    def _keys_together(self) -> Self:
        if (self.access_key_id is None) != (self.secret_access_key is None):
            raise ValueError(
                "RECORDINGS_S3_ACCESS_KEY_ID and RECORDINGS_S3_SECRET_ACCESS_KEY must be set"
                " together"
            )
        return self

    @property
    def configured(self) -> bool:
        """Whether recordings go to a bucket (``RECORDINGS_S3_BUCKET`` is set)."""
        return self.bucket is not None


def object_key(settings: RecordingStorageSettings, *, call_id: str, attempt_id: str) -> str:
    """The key of an attempt's recording: ``<prefix><call id>/<attempt id>.wav``.

    In the ids, characters other than letters, digits, ``.``, ``_`` and ``-`` become ``_``.
    """
    return f"{settings.prefix}{_safe(call_id)}/{_safe(attempt_id)}.wav"


def _safe(part: str) -> str:
    cleaned = _UNSAFE.sub("_", part)[:MAX_KEY_PART]
    if not cleaned.strip("."):  # "", "." and "..": not a usable path segment
        return "_" * max(len(cleaned), 1)
    return cleaned


def recording_url(settings: RecordingStorageSettings, key: str) -> str:
    """The URL of the recording at ``key`` (computed here, no request is made).

    A presigned GET URL valid ``RECORDINGS_URL_EXPIRY`` seconds, or, when that is 0, the plain
    object URL (for a public bucket). Building the S3 client takes some CPU and disk (about a
    tenth of a second): on the event loop, call it in a thread.

    Raises:
        DeliveryError: Storage is not configured, or no credentials were found to sign with.
    """
    bucket = _bucket(settings)
    signed = settings.url_expiry > 0
    try:
        with closing(_client(settings, signed=signed)) as client:
            url = client.generate_presigned_url(
                "get_object",
                Params={"Bucket": bucket, "Key": key},
                ExpiresIn=settings.url_expiry,
            )
    except BotoCoreError as err:
        raise DeliveryError(
            f"the recording URL cannot be signed ({type(err).__name__})", retryable=False
        ) from None
    return str(url)


async def upload(settings: RecordingStorageSettings, path: Path, key: str) -> None:
    """Upload the WAV file at ``path`` to ``key`` (again is fine: the object is replaced).

    Raises:
        DeliveryError: The file or the storage failed; ``retryable`` when trying later may help.
    """
    bucket = _bucket(settings)
    await asyncio.to_thread(_put, settings, bucket, path, key)


def _bucket(settings: RecordingStorageSettings) -> str:
    if settings.bucket is None:
        raise DeliveryError(
            "recording storage is not configured (RECORDINGS_S3_BUCKET)", retryable=False
        )
    return settings.bucket


def _put(settings: RecordingStorageSettings, bucket: str, path: Path, key: str) -> None:
    try:
        recording = path.open("rb")
    except OSError as err:
        raise DeliveryError(
            f"the recording {path.name} cannot be read ({err.strerror})", retryable=False
        ) from None
    with recording:
        try:
            with closing(_client(settings, signed=True)) as client:
                client.put_object(Bucket=bucket, Key=key, Body=recording, ContentType=CONTENT_TYPE)
        except ClientError as err:
            raise _answered(err) from None
        except (EndpointUnreachable, HTTPClientError) as err:
            raise DeliveryError(
                f"the storage could not be reached ({type(err).__name__})", retryable=True
            ) from None
        except BotoCoreError as err:  # no credentials found, a bad region or parameter
            raise DeliveryError(
                f"the upload failed ({type(err).__name__})", retryable=False
            ) from None


def _answered(err: Any) -> DeliveryError:
    """The ``DeliveryError`` for an error answer of the storage (a botocore ``ClientError``)."""
    code = str(err.response.get("Error", {}).get("Code", "unknown"))
    status = int(err.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
    retryable = status >= 500 or status in (408, 429) or code in _RETRYABLE_CODES
    return DeliveryError(f"the storage answered {code} (HTTP {status})", retryable=retryable)


def _client(settings: RecordingStorageSettings, *, signed: bool) -> Any:
    """A new S3 client for ``settings``; the caller closes it.

    At most two tries per request (the outbox retries later); checksums only where S3 requires
    them, as some S3-compatible servers refuse botocore's default ones.
    """
    config = Config(
        signature_version="s3v4" if signed else UNSIGNED,
        s3={"addressing_style": "path" if settings.endpoint_url else "auto"},
        connect_timeout=10,
        read_timeout=60,
        retries={"mode": "standard", "total_max_attempts": 2},
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    key_id, secret = settings.access_key_id, settings.secret_access_key
    return boto3.session.Session().client(
        "s3",
        endpoint_url=settings.endpoint_url,
        region_name=settings.region,
        aws_access_key_id=key_id.get_secret_value() if key_id else None,
        aws_secret_access_key=secret.get_secret_value() if secret else None,
        config=config,
    )
