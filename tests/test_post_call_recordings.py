"""Recordings in S3-compatible storage: a real local S3 server (moto) on 127.0.0.1."""

from __future__ import annotations

import asyncio
import io
import json
import socket
import urllib.request
import uuid
import wave
from collections.abc import AsyncIterator, Iterator
from contextlib import closing
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aiohttp import web
from moto.server import ThreadedMotoServer

from agent_runtime.errors import DeliveryError, SettingsError
from agent_runtime.post_call.recordings import (
    RecordingStorageSettings,
    object_key,
    recording_url,
    upload,
)

KEY_ID = "AKIATESTKEY"
SECRET = "test-secret-access-key"


@pytest.fixture(autouse=True)
def _offline_aws(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """boto3 reads nothing of this machine's AWS setup and asks no metadata service."""
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "no-aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "no-aws-credentials"))
    for name in (
        "AWS_PROFILE",
        "AWS_ENDPOINT_URL",
        "AWS_ENDPOINT_URL_S3",
        "AWS_ACCESS_KEY_ID",
        "AWS_SECRET_ACCESS_KEY",
        "AWS_SESSION_TOKEN",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
    ):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_PROXY", "127.0.0.1")
    monkeypatch.setenv("no_proxy", "127.0.0.1")


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _s3(endpoint: str) -> Any:
    return boto3.session.Session().client(
        "s3",
        endpoint_url=endpoint,
        region_name="us-east-1",
        aws_access_key_id=KEY_ID,
        aws_secret_access_key=SECRET,
    )


@pytest.fixture
def bucket(endpoint: str) -> str:
    name = f"recordings-{uuid.uuid4().hex[:12]}"
    with closing(_s3(endpoint)) as s3:
        s3.create_bucket(Bucket=name)
    return name


def _wav_bytes() -> bytes:
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as out:
        out.setnchannels(1)
        out.setsampwidth(2)
        out.setframerate(8000)
        out.writeframes(bytes(range(256)) * 8)
    return buffer.getvalue()


WAV = _wav_bytes()


@pytest.fixture
def wav(tmp_path: Path) -> Path:
    path = tmp_path / "call.wav"
    path.write_bytes(WAV)
    return path


@pytest.fixture
def closed_port() -> Iterator[int]:
    """A local port bound but not listening: connecting to it is refused."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        yield sock.getsockname()[1]


def _settings(
    endpoint: str | None, bucket: str = "recordings-test", **extra: str
) -> RecordingStorageSettings:
    env = {
        "RECORDINGS_S3_BUCKET": bucket,
        "RECORDINGS_S3_ACCESS_KEY_ID": KEY_ID,
        "RECORDINGS_S3_SECRET_ACCESS_KEY": SECRET,
        **({"RECORDINGS_S3_ENDPOINT_URL": endpoint} if endpoint else {}),
        **extra,
    }
    return RecordingStorageSettings.from_env(env)


def _stored(endpoint: str, bucket: str, key: str) -> tuple[bytes, str]:
    with closing(_s3(endpoint)) as s3:
        answer = s3.get_object(Bucket=bucket, Key=key)
        with closing(answer["Body"]) as body:
            return body.read(), answer["ContentType"]


def _make_public(endpoint: str, bucket: str) -> None:
    policy = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": "*",
                "Action": "s3:GetObject",
                "Resource": f"arn:aws:s3:::{bucket}/*",
            }
        ],
    }
    with closing(_s3(endpoint)) as s3:
        s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps(policy))


def _download(url: str) -> bytes:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=10) as answer:
        data: bytes = answer.read()
        return data


async def test_an_upload_stores_the_wav_and_can_be_repeated(
    endpoint: str, bucket: str, wav: Path
) -> None:
    settings = _settings(endpoint, bucket)
    key = object_key(settings, call_id="call_7", attempt_id="att_42")
    assert key == "recordings/call_7/att_42.wav"

    await upload(settings, wav, key)
    assert _stored(endpoint, bucket, key) == (WAV, "audio/wav")

    await asyncio.to_thread(wav.write_bytes, WAV + b"\0\0")
    await upload(settings, wav, key)  # the same key again: replaced, no error
    assert _stored(endpoint, bucket, key)[0] == WAV + b"\0\0"


async def test_the_presigned_url_downloads_the_recording(
    endpoint: str, bucket: str, wav: Path
) -> None:
    settings = _settings(endpoint, bucket, RECORDINGS_URL_EXPIRY="3600")
    key = object_key(settings, call_id="call_7", attempt_id="att_42")
    await upload(settings, wav, key)

    url = recording_url(settings, key)
    parts = urlsplit(url)
    assert f"{parts.scheme}://{parts.netloc}{parts.path}" == f"{endpoint}/{bucket}/{key}"
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["3600"]
    assert "X-Amz-Signature" in query
    assert SECRET not in url
    assert await asyncio.to_thread(_download, url) == WAV


async def test_an_expiry_of_zero_gives_the_plain_object_url(
    endpoint: str, bucket: str, wav: Path
) -> None:
    settings = _settings(endpoint, bucket, RECORDINGS_URL_EXPIRY="0")
    key = object_key(settings, call_id="call_7", attempt_id="att_42")
    await upload(settings, wav, key)
    _make_public(endpoint, bucket)

    url = recording_url(settings, key)
    assert url == f"{endpoint}/{bucket}/recordings/call_7/att_42.wav"
    assert await asyncio.to_thread(_download, url) == WAV


def test_on_aws_urls_are_virtual_hosted() -> None:
    plain = _settings(None, "acme-calls", RECORDINGS_URL_EXPIRY="0")
    assert recording_url(plain, "recordings/c/a.wav") == (
        "https://acme-calls.s3.amazonaws.com/recordings/c/a.wav"
    )
    signed = _settings(None, "acme-calls", RECORDINGS_S3_REGION="eu-west-3")
    parts = urlsplit(recording_url(signed, "recordings/c/a.wav"))
    assert parts.netloc.startswith("acme-calls.s3.")
    query = parse_qs(parts.query)
    assert query["X-Amz-Expires"] == ["604800"]
    assert "/eu-west-3/s3/" in query["X-Amz-Credential"][0]


async def test_odd_ids_make_safe_keys_that_work(endpoint: str, bucket: str, wav: Path) -> None:
    settings = _settings(endpoint, bucket, RECORDINGS_S3_PREFIX="")
    key = object_key(settings, call_id="../call 7?#é", attempt_id="..")
    assert key == ".._call_7___/__.wav"
    assert object_key(settings, call_id="", attempt_id="a/b\\c") == "_/a_b_c.wav"

    await upload(settings, wav, key)
    assert await asyncio.to_thread(_download, recording_url(settings, key)) == WAV


async def test_without_keys_the_default_credential_chain_is_used(
    endpoint: str, bucket: str, wav: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    env = {"RECORDINGS_S3_BUCKET": bucket, "RECORDINGS_S3_ENDPOINT_URL": endpoint}
    settings = RecordingStorageSettings.from_env(env)
    key = object_key(settings, call_id="call_7", attempt_id="att_1")
    with pytest.raises(DeliveryError) as caught:
        await upload(settings, wav, key)
    assert not caught.value.retryable
    assert "NoCredentialsError" in str(caught.value)
    with pytest.raises(DeliveryError):
        recording_url(settings, key)

    monkeypatch.setenv("AWS_ACCESS_KEY_ID", KEY_ID)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", SECRET)
    await upload(settings, wav, key)
    assert await asyncio.to_thread(_download, recording_url(settings, key)) == WAV


async def test_a_missing_bucket_is_not_retried(endpoint: str, wav: Path) -> None:
    settings = _settings(endpoint, "no-such-bucket-here")
    with pytest.raises(DeliveryError) as caught:
        await upload(settings, wav, "recordings/c/a.wav")
    assert not caught.value.retryable
    assert "NoSuchBucket" in str(caught.value)


async def test_an_unreachable_endpoint_is_retried(closed_port: int, wav: Path) -> None:
    settings = _settings(f"http://127.0.0.1:{closed_port}")
    with pytest.raises(DeliveryError) as caught:
        await upload(settings, wav, "recordings/c/a.wav")
    assert caught.value.retryable
    assert "could not be reached" in str(caught.value)


async def test_a_missing_file_is_not_retried(endpoint: str, bucket: str, tmp_path: Path) -> None:
    with pytest.raises(DeliveryError) as caught:
        await upload(_settings(endpoint, bucket), tmp_path / "gone.wav", "recordings/c/a.wav")
    assert not caught.value.retryable
    assert "gone.wav" in str(caught.value)


@dataclass
class ErrorAnswer:
    """What a stand-in S3 server answers every request with."""

    status: int = 503
    code: str = "SlowDown"
    requests: int = 0

    async def handle(self, request: web.Request) -> web.Response:
        await request.read()
        self.requests += 1
        body = (
            '<?xml version="1.0" encoding="UTF-8"?>'
            f"<Error><Code>{self.code}</Code><Message>no</Message></Error>"
        )
        return web.Response(status=self.status, text=body, content_type="application/xml")


@pytest.fixture
async def error_server() -> AsyncIterator[tuple[str, ErrorAnswer]]:
    answer = ErrorAnswer()
    app = web.Application()
    app.router.add_put("/{path:.*}", answer.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    try:
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        host, port = runner.addresses[0][:2]
        yield f"http://{host}:{port}", answer
    finally:
        await runner.cleanup()


@pytest.mark.parametrize(
    ("status", "code", "retryable"),
    [
        (503, "SlowDown", True),
        (500, "InternalError", True),
        (403, "AccessDenied", False),
        (403, "InvalidAccessKeyId", False),
    ],
)
async def test_the_storage_answer_decides_the_retry(
    error_server: tuple[str, ErrorAnswer], wav: Path, status: int, code: str, retryable: bool
) -> None:
    url, answer = error_server
    answer.status, answer.code = status, code
    with pytest.raises(DeliveryError) as caught:
        await upload(_settings(url), wav, "recordings/c/a.wav")
    assert caught.value.retryable is retryable
    assert str(caught.value) == f"the storage answered {code} (HTTP {status})"
    assert answer.requests >= 1


async def test_unconfigured_storage_uploads_nothing(wav: Path) -> None:
    settings = RecordingStorageSettings.from_env({})
    assert not settings.configured
    with pytest.raises(DeliveryError) as caught:
        await upload(settings, wav, "recordings/c/a.wav")
    assert not caught.value.retryable
    assert "RECORDINGS_S3_BUCKET" in str(caught.value)


def test_settings_defaults_and_an_empty_prefix() -> None:
    settings = RecordingStorageSettings.from_env({"RECORDINGS_S3_BUCKET": "acme"})
    assert settings.configured
    assert (settings.prefix, settings.region, settings.url_expiry) == (
        "recordings/",
        "us-east-1",
        604800,
    )
    assert settings.endpoint_url is None and settings.access_key_id is None
    bare = RecordingStorageSettings.from_env({"RECORDINGS_S3_PREFIX": ""})
    assert object_key(bare, call_id="c", attempt_id="a") == "c/a.wav"


@pytest.mark.parametrize(
    ("env", "variable", "words"),
    [
        ({"RECORDINGS_URL_EXPIRY": "604801"}, "RECORDINGS_URL_EXPIRY", "less than or equal"),
        ({"RECORDINGS_URL_EXPIRY": "-1"}, "RECORDINGS_URL_EXPIRY", "greater than or equal"),
        ({"RECORDINGS_URL_EXPIRY": "week"}, "RECORDINGS_URL_EXPIRY", "valid integer"),
        ({"RECORDINGS_S3_ENDPOINT_URL": "minio:9000"}, "RECORDINGS_S3_ENDPOINT_URL", "http"),
    ],
)
def test_a_bad_setting_is_named(env: dict[str, str], variable: str, words: str) -> None:
    with pytest.raises(SettingsError) as caught:
        RecordingStorageSettings.from_env({"RECORDINGS_S3_BUCKET": "acme", **env})
    [problem] = caught.value.problems
    assert problem.path == variable
    assert words in problem.reason


def test_an_access_key_without_its_secret_names_both() -> None:
    env = {"RECORDINGS_S3_BUCKET": "acme", "RECORDINGS_S3_ACCESS_KEY_ID": KEY_ID}
    with pytest.raises(SettingsError) as caught:
        RecordingStorageSettings.from_env(env)
    message = str(caught.value)
    assert "RECORDINGS_S3_ACCESS_KEY_ID" in message
    assert "RECORDINGS_S3_SECRET_ACCESS_KEY" in message
    assert KEY_ID not in message


def test_credentials_never_show() -> None:
    settings = _settings("http://127.0.0.1:9")
    assert SECRET not in repr(settings) and KEY_ID not in repr(settings)
