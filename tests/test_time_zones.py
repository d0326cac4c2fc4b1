"""The callee's time zone: the configured zone, else the number's own zone, else UTC."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from agent_runtime.cli import main
from agent_runtime.config.loading import spec_from_document
from agent_runtime.config.phone import MAIN_TIME_ZONES, NumberTimeZone, time_zone_of
from agent_runtime.config.spec import CallSpec

NOW = datetime(2026, 11, 21, 23, 41, tzinfo=UTC)
ASSUMED = "is in several time zones; {zone} is assumed"


def _spec(to: str | None = None, **call: Any) -> CallSpec:
    document: dict[str, Any] = {
        "id": "c1",
        "direction": "outbound",
        "assistant": {"prompt": "{{timezone}} {{current_time}}"},
        **call,
    }
    if to is not None:
        document["to_phone_number"] = to
    return spec_from_document(document, now=NOW)


def _warnings(spec: CallSpec) -> dict[str, str]:
    return {w.path: w.reason for w in spec.warnings}


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+1 212 555 1234", "America/New_York"),  # New York
        ("+1 213 555 1234", "America/Los_Angeles"),  # Los Angeles
        ("+1 310 555 1234", "America/Los_Angeles"),  # Los Angeles (west side)
        ("+1 312 555 1234", "America/Chicago"),  # Chicago
        ("+33 6 12 34 56 78", "Europe/Paris"),  # French mobile
        ("+33 1 42 68 53 00", "Europe/Paris"),  # Paris
        ("+1 876 210 1234", "America/Jamaica"),  # Jamaican mobile: shares +1, one zone
        ("+44 7400 123456", "Europe/London"),  # UK mobile: London, Jersey... keep one clock
        ("+353 85 012 3456", "Europe/Dublin"),  # Ireland: named by its own zone
        ("+262 692 12 34 56", "Indian/Reunion"),  # Réunion mobile: shares +262 with Mayotte
    ],
)
def test_a_number_with_one_clock_gets_its_own_zone_without_warning(number: str, zone: str) -> None:
    spec = _spec(number)
    assert spec.time_zone == zone
    assert _warnings(spec) == {}


@pytest.mark.parametrize(
    ("number", "zone"),
    [
        ("+7 916 123 45 67", "Europe/Moscow"),  # Moscow mobile (was Asia/Almaty)
        ("+1 800 555 1234", "America/New_York"),  # toll-free (was America/Adak)
        ("+1 888 555 1234", "America/New_York"),
        ("+61 412 345 678", "Australia/Sydney"),  # Australian mobile
        ("+34 612 34 56 78", "Europe/Madrid"),  # Spanish mobile: mainland, not the Canaries
        ("+1 907 555 1234", "America/Anchorage"),  # Alaska's area code also covers Adak
    ],
)
def test_a_number_across_zones_gets_the_main_zone_with_a_warning(number: str, zone: str) -> None:
    spec = _spec(number)
    assert spec.time_zone == zone
    warning = _warnings(spec)["$.to_phone_number"]
    assert warning.startswith(ASSUMED.format(zone=zone))
    assert "call_retry_config.timezone" in warning


def test_the_assumed_zone_sets_the_callee_local_time() -> None:
    spec = _spec("+7 916 123 45 67")
    # 23:41 UTC is 02:41 in Moscow (UTC+3); Almaty (UTC+5) would say 04:41
    assert spec.instructions == "Europe/Moscow 02:41"


def test_kazakhstan_is_told_apart_from_russia_on_plus_7() -> None:
    assert _spec("+7 701 123 4567").time_zone == "Asia/Almaty"


def test_the_warning_names_the_caller_number_of_an_inbound_call() -> None:
    spec = _spec(direction="inbound", from_phone_number="+18005551234")
    assert spec.time_zone == "America/New_York"
    assert "$.from_phone_number" in _warnings(spec)


def test_the_warning_path_follows_the_document() -> None:
    document = {
        "call": {
            "id": "c1",
            "direction": "outbound",
            "to_phone_number": "+18005551234",
            "assistant": {"prompt": "Hi"},
        }
    }
    spec = spec_from_document(document, now=NOW)
    assert list(_warnings(spec)) == ["$.call.to_phone_number"]


@pytest.mark.parametrize("owner", ["assistant", "call"])
def test_the_configured_time_zone_wins_without_warning(owner: str) -> None:
    retry = {"call_retry_config": {"timezone": "Asia/Tokyo"}}
    if owner == "assistant":
        spec = _spec("+18005551234", assistant={"prompt": "{{timezone}}", **retry})
    else:
        spec = _spec("+79161234567", **retry)
    assert spec.time_zone == "Asia/Tokyo"
    assert _warnings(spec) == {}


def test_the_assistant_time_zone_wins_over_the_call_one() -> None:
    spec = _spec(
        "+33612345678",
        assistant={"prompt": "Hi", "call_retry_config": {"timezone": "Asia/Tokyo"}},
        call_retry_config={"timezone": "America/Denver"},
    )
    assert spec.time_zone == "Asia/Tokyo"


def test_no_number_or_an_invalid_one_means_utc() -> None:
    assert _spec().time_zone == "UTC"
    spec = _spec("+1 555 555 0123")  # a fiction number: dropped with its own warning
    assert spec.time_zone == "UTC"
    assert "not a valid phone number" in _warnings(spec)["$.to_phone_number"]


@pytest.mark.parametrize("number", ["not a number", "+1 555 555 0123", "+999 123", ""])
def test_a_number_without_a_zone_has_none(number: str) -> None:
    assert time_zone_of(number) is None


def test_time_zone_of_reports_whether_the_zone_is_assumed() -> None:
    assert time_zone_of("+12125551234") == NumberTimeZone("America/New_York")
    assert time_zone_of("+18005551234") == NumberTimeZone("America/New_York", assumed=True)


def test_every_main_zone_is_a_known_zone() -> None:
    for zone in MAIN_TIME_ZONES.values():
        assert ZoneInfo(zone).key == zone


def test_check_config_prints_the_assumed_zone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = tmp_path / "call.json"
    document = {
        "id": "c1",
        "direction": "outbound",
        "to_phone_number": "+18005551234",
        "assistant": {"prompt": "Hi"},
    }
    path.write_text(json.dumps(document))
    assert main(["check-config", str(path)]) == 0
    out = capsys.readouterr().out
    assert "warning $.to_phone_number: is in several time zones; America/New_York" in out
    assert "callee time zone America/New_York" in out
    assert main(["check-config", "--strict", str(path)]) == 1
