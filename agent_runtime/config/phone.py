"""Phone numbers: E.164 validation and the time zone of a number, with ``phonenumbers``."""

from __future__ import annotations

import phonenumbers
from phonenumbers import timezone as phone_timezone

_UNKNOWN_ZONE = "Etc/Unknown"


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


def region_of(number: str) -> str | None:
    """The ISO country code of an E.164 number (``"FR"``), or None."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    return phonenumbers.region_code_for_number(parsed)


def time_zone_of(number: str) -> str | None:
    """The most likely IANA time zone of an E.164 number (``"Europe/Paris"``), or None."""
    try:
        parsed = phonenumbers.parse(number, None)
    except phonenumbers.NumberParseException:
        return None
    zones = [z for z in phone_timezone.time_zones_for_number(parsed) if z != _UNKNOWN_ZONE]
    return zones[0] if zones else None
