"""Time as the database stores it: integer milliseconds since the epoch."""

from __future__ import annotations

import time
from datetime import UTC, datetime

__all__ = ["iso", "now_ms", "parse_iso_ms"]


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def iso(ms: int | None) -> str | None:
    """RFC 3339 in UTC with milliseconds, as the API shows every date-time."""
    if ms is None:
        return None
    moment = datetime.fromtimestamp(ms / 1000, tz=UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{ms % 1000:03d}Z"


def parse_iso_ms(text: str) -> int | None:
    """Milliseconds of an RFC 3339 date-time with a zone, or None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return int(moment.timestamp() * 1000)
