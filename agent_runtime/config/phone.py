"""Phone numbers: E.164 validation and the time zone of a number, with ``phonenumbers``."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as phone_timezone

_UNKNOWN_ZONE = "Etc/Unknown"

MAIN_TIME_ZONES: dict[str, str] = {
    # Countries whose numbers ``phonenumbers`` may place in several clocks: the zone where most
    # people live. A number whose zones keep several clocks (a toll-free or mobile number, an
    # area code across a zone line) is assumed to be there, with a warning.
    "US": "America/New_York",  # Eastern time; +1 toll-free numbers (800, 888...) are "US"
    "CA": "America/Toronto",  # Eastern time, as Ontario and Quebec
    "MX": "America/Mexico_City",
    "BR": "America/Sao_Paulo",  # Brasilia time, the south-east and the capital
    "RU": "Europe/Moscow",  # Moscow time, as the capital and the west of the country
    "AU": "Australia/Sydney",  # Eastern time, as NSW, Victoria and the capital
    "ID": "Asia/Jakarta",  # Western Indonesia time: Java and Sumatra
    "ES": "Europe/Madrid",  # the mainland, not the Canary Islands
    "PT": "Europe/Lisbon",  # the mainland, not the Azores
    "NZ": "Pacific/Auckland",  # not the Chatham Islands
    "EC": "America/Guayaquil",  # the mainland, not the Galapagos
    "CD": "Africa/Kinshasa",
    "GL": "America/Nuuk",
    "KI": "Pacific/Tarawa",
    "PF": "Pacific/Tahiti",
    "FM": "Pacific/Chuuk",
    "MN": "Asia/Ulaanbaatar",
    # One clock under several names: the country's own name for it.
    "GB": "Europe/London",
    "IE": "Europe/Dublin",
    "IT": "Europe/Rome",
    "NO": "Europe/Oslo",
    "FI": "Europe/Helsinki",
}
"""The zone assumed for a number of these countries when ``phonenumbers`` gives several."""


def to_e164(value: str) -> str:
    """Return ``value`` as a canonical E.164 number, or raise ``ValueError`` saying why.

    The value must already be written in international form (``+`` and a country code); a
    number that is well-formed but unassigned (``+1 555 ...`` fiction numbers) is refused.
    """
    text = value.strip()
    if not text.startswith("+"):
        raise ValueError("must be in E.164 format: '+', country code and number, e.g. +14155550123")
    try:
        parsed = phonenumbers.parse(text, None)
    except phonenumbers.NumberParseException:
        raise ValueError("is not a phone number in E.164 format (e.g. +14155550123)") from None
    if not phonenumbers.is_valid_number(parsed):
        raise ValueError("is not a valid phone number for its country code")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


@dataclass(frozen=True)
class NumberTimeZone:
    """The time zone of a phone number.

    Attributes:
        zone: The IANA zone (``"Europe/Paris"``).
        assumed: True when the number spans several clocks (a toll-free or mobile number of a
            country with several zones, an area code across a zone line) and ``zone`` is the
            one assumed for it.
    """

    zone: str
    assumed: bool = False


def time_zone_of(number: str) -> NumberTimeZone | None:
    """The time zone of an E.164 number, or None when the number has none.

    ``phonenumbers`` gives the zones of the number: those of its area for a geographic
    number, those of its whole calling code for a mobile or toll-free one. Outside
    ``MAIN_TIME_ZONES``, they are narrowed to the zones of the number's own prefix, which
    separates the countries that share a calling code (+1 876 is Jamaica). When the zones keep
    one clock, that is the number's zone. When they keep several, the country's main zone is
    assumed if it keeps one of those clocks, else the zone whose clock is nearest to it
    (Anchorage rather than Adak for Alaska's 907), else the first zone.
    """
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    zones = _usable(phone_timezone.time_zones_for_number(parsed))
    if len(zones) <= 1:
        return NumberTimeZone(zones[0]) if zones else None
    main = MAIN_TIME_ZONES.get(phonenumbers.region_code_for_number(parsed) or "")
    if main is None:
        own = _usable(phone_timezone.time_zones_for_geographical_number(parsed))
        zones = [zone for zone in zones if zone in own] or zones
    clocks = {_clock(zone) for zone in zones}
    if main is None:
        zone = zones[0]
    elif _clock(main) in clocks:
        zone = main
    else:
        zone = min(zones, key=lambda candidate: _distance(candidate, main))
    return NumberTimeZone(zone, assumed=len(clocks) > 1)


def _usable(zones: tuple[str, ...]) -> list[str]:
    """The zones that this machine's time zone database knows."""
    return [zone for zone in zones if zone != _UNKNOWN_ZONE and _clock(zone) is not None]


def _distance(zone: str, other: str) -> timedelta:
    """How far apart the standard (January) clocks of two zones are."""
    first, second = _clock(zone), _clock(other)
    if first is None or second is None:
        return timedelta.max
    return abs(first[0] - second[0])


def _clock(zone: str) -> tuple[timedelta, timedelta] | None:
    """The zone's UTC offsets in mid-January and mid-July this year, or None if unknown."""
    return _clock_in(zone, datetime.now(UTC).year)


@lru_cache(maxsize=512)
def _clock_in(zone: str, year: int) -> tuple[timedelta, timedelta] | None:
    try:
        info = ZoneInfo(zone)
    except ZoneInfoNotFoundError:
        return None
    january, july = (info.utcoffset(datetime(year, month, 15, 12)) for month in (1, 7))
    return january or timedelta(), july or timedelta()
