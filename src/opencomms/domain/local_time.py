"""Sending at a recipient's local time: a `sendAt` without a zone.

The zone comes from the recipient's phone number: the zone libphonenumber gives for its
prefix when there is exactly one (US area codes, most countries), else the zone of its
country when the country has only one (the tz database's zone.tab), else UTC; email
addresses are in UTC. A number in a range that spans zones (a Russian mobile, a US
toll-free number) is therefore sent at the UTC time: there is no right answer for it.
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta
from functools import cache
from importlib import resources
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import phonenumbers
from phonenumbers import timezone as number_zones

__all__ = ["instant_ms", "parse_local", "window_ms", "zone_of"]

UTC = ZoneInfo("UTC")
# a local time happens first at UTC+14 (Kiribati) and last at UTC-12
EARLIEST = timedelta(hours=-14)
LATEST = timedelta(hours=12)


def parse_local(text: str) -> datetime | None:
    """A date-time without a zone (`2030-01-01T09:00:00`), or None."""
    if "T" not in text.upper():
        return None
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is not None or not 1971 <= moment.year <= 9998:
        return None  # (out of range, a local time could not be placed in every zone)
    return moment


def window_ms(local: datetime) -> tuple[int, int]:
    """The first and last instants at which `local` happens somewhere on Earth."""
    at_utc = local.replace(tzinfo=UTC)
    return (
        int((at_utc + EARLIEST).timestamp() * 1000),
        int((at_utc + LATEST).timestamp() * 1000),
    )


def instant_ms(local: datetime, zone: ZoneInfo) -> int:
    return int(local.replace(tzinfo=zone).timestamp() * 1000)


def zone_of(address: str) -> ZoneInfo:
    """The zone of a recipient's address (module docstring)."""
    if "@" in address:
        return UTC
    try:
        number = phonenumbers.parse(address)
    except phonenumbers.NumberParseException:
        return UTC
    names = [n for n in number_zones.time_zones_for_number(number) if n != "Etc/Unknown"]
    if len(names) != 1:
        country = phonenumbers.region_code_for_country_code(number.country_code or 0)
        region = phonenumbers.region_code_for_number(number) or country
        names = _country_zones().get(region, [])
    return _zone(names[0]) if len(names) == 1 else UTC


@cache
def _zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        return UTC


@cache
def _country_zones() -> dict[str, list[str]]:
    """Country code -> its zones, from the tz database's zone.tab (the tzdata package)."""
    table = resources.files("tzdata").joinpath("zoneinfo", "zone.tab").read_text()
    zones: dict[str, list[str]] = defaultdict(list)
    for line in table.splitlines():
        if line and not line.startswith("#"):
            country, _, name, *_ = line.split("\t")
            zones[country].append(name)
    return dict(zones)
