"""Field types shared by the config models.

"Tolerant" types accept the odd values the API reference shows in its response examples: they
keep a safe reading and record a warning (see ``base.note``) instead of failing the document.
"""

from __future__ import annotations

import ipaddress
import re
import socket
import unicodedata
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import urlsplit

import idna
from pydantic import BeforeValidator, ValidationInfo

from .base import note
from .phone import to_e164


def _field(info: ValidationInfo) -> str:
    return info.field_name or "value"


def _tolerant_phone(value: Any, info: ValidationInfo) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        note(_field(info), "must be a phone number string in E.164 format; ignored")
        return None
    try:
        return to_e164(value)
    except ValueError as err:
        note(_field(info), f"{err}; ignored")
        return None


PhoneNumber = Annotated[str | None, BeforeValidator(_tolerant_phone)]
"""An E.164 number; an invalid one is dropped with a warning (the feature using it is off)."""


def parse_timestamp(value: Any) -> datetime:
    """Parse an ISO 8601 string or epoch seconds / milliseconds into an aware UTC datetime."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, bool):
        raise ValueError("a boolean is not a timestamp")
    elif isinstance(value, int | float):
        seconds = value / 1000 if abs(value) > 1e11 else value
        moment = datetime.fromtimestamp(seconds, tz=UTC)
    elif isinstance(value, str):
        moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    else:
        raise ValueError(f"unrecognised timestamp shape ({type(value).__name__})")
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def _tolerant_timestamp(value: Any, info: ValidationInfo) -> datetime | None:
    if value is None or value == "":
        return None
    try:
        return parse_timestamp(value)
    except (ValueError, OverflowError, OSError):
        note(_field(info), "is not an ISO 8601 timestamp or epoch time; ignored")
        return None


Timestamp = Annotated[datetime | None, BeforeValidator(_tolerant_timestamp)]
"""A point in time (ISO 8601 or epoch); the API documents its shape as unknown, so an
unreadable value is dropped with a warning."""


def is_http_url(value: str) -> bool:
    """True when ``value`` is an absolute http(s) URL with a host."""
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.hostname)


def _tolerant_url(value: Any, info: ValidationInfo) -> str | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and is_http_url(value.strip()):
        return value.strip()
    note(_field(info), "is not an absolute http(s) URL; ignored")
    return None


HttpUrlOrNone = Annotated[str | None, BeforeValidator(_tolerant_url)]
"""An absolute http(s) URL; anything else is dropped with a warning."""


def _strict_url(value: Any) -> Any:
    if isinstance(value, str) and not is_http_url(value.strip()):
        raise ValueError("must be an absolute http(s) URL, e.g. https://api.example.com/v1")
    return value.strip() if isinstance(value, str) else value


StrictHttpUrl = Annotated[str, BeforeValidator(_strict_url)]
"""An absolute http(s) URL; anything else is an error."""


IPAddress = ipaddress.IPv4Address | ipaddress.IPv6Address

_LABEL = re.compile(r"(?!-)[a-z0-9_-]{1,63}(?<!-)")
_NUMBER = re.compile(r"[0-9]+|0x[0-9a-f]*")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def normalize_host(host: str) -> str | IPAddress:
    """The host a connection would go to: an IP address, or a lowercase ASCII DNS name.

    The text is mapped as IDNA does (NFKC, UTS #46: full-width digits, ideographic full stops,
    case), an IDN becomes punycode, a trailing dot goes, and a name whose last label is a
    number is read as the IPv4 address ``inet_aton`` makes of it (``127.1``, ``0x7f.1``,
    ``2130706433``, ``0177.0.0.1``), as a browser would.

    Raises:
        ValueError: ``host`` is neither a valid DNS name nor an IP address.
    """
    text = idna.uts46_remap(unicodedata.normalize("NFKC", host), std3_rules=False)
    if ":" in text and "%" not in text:
        return ipaddress.IPv6Address(text)
    name = (text if text.isascii() else idna.encode(text).decode("ascii")).removesuffix(".")
    labels = name.split(".")
    if len(name) > 253 or not all(_LABEL.fullmatch(label) for label in labels):
        raise ValueError(f"{host!r} is not a valid host name or address")
    if _NUMBER.fullmatch(labels[-1]):
        try:
            return ipaddress.IPv4Address(socket.inet_aton(name))
        except OSError:
            raise ValueError(f"{host!r} is not a valid IPv4 address") from None
    return name


def embedded_ipv4(address: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    """The IPv4 address an IPv6 address carries: mapped, compatible, NAT64 or 6to4."""
    if address.ipv4_mapped is not None:
        return address.ipv4_mapped
    if address.sixtofour is not None:
        return address.sixtofour
    if address in _IPV4_COMPATIBLE or address in _NAT64:
        return ipaddress.IPv4Address(int(address) & 0xFFFF_FFFF)
    return None


def forbidden_address(address: str | IPAddress) -> bool:
    """True for an address a tool must not reach: loopback, private, link-local, CGNAT...

    An IPv4-mapped IPv6 address is judged as its IPv4 address; one carrying an IPv4 address in
    another way (compatible, NAT64, 6to4) is refused when either address is.
    """
    ip = ipaddress.ip_address(address) if isinstance(address, str) else address
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return forbidden_address(ip.ipv4_mapped)
        inner = embedded_ipv4(ip)
        if inner is not None and forbidden_address(inner):
            return True
    # not global: loopback, private, link-local, unspecified, CGNAT, documentation...
    return not ip.is_global or ip.is_multicast or ip.is_reserved


def url_host(url: str) -> str | IPAddress:
    """The normalised host of ``url`` (see ``normalize_host``).

    Raises:
        ValueError: the URL has no valid host.
    """
    return normalize_host(urlsplit(url).hostname or "")
