"""Time as the database stores it: integer milliseconds since the epoch."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["iso", "now_ms", "parse_iso_ms", "rfc3339"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def rfc3339(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, as the API and the events show every date-time:
    `2024-05-01T12:00:00.123Z`."""
    seconds, millis = divmod(ms, 1000)
    moment = datetime.fromtimestamp(seconds, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{millis:03d}Z"


def iso(ms: int | None) -> str | None:
    """`rfc3339`, or None for a date-time that is not set."""
    return None if ms is None else rfc3339(ms)


def parse_iso_ms(text: str) -> int | None:
    """Milliseconds of an RFC 3339 date-time with a zone, or None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)
