"""Time as the database stores it: integer milliseconds since the epoch.

Conversions are integer arithmetic, so that any stored value can be shown: `datetime`
stops at year 9999, and a date-time just inside it with a zone west of UTC is already
past it in UTC (`9999-12-31T23:00:00-05:00`).
"""

from __future__ import annotations

import time
from datetime import UTC, datetime, timedelta

__all__ = ["iso", "ms_of", "now_ms", "parse_iso_ms", "rfc3339"]

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_MS = timedelta(milliseconds=1)
_DAY_MS = 86_400_000


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def _civil(days: int) -> tuple[int, int, int]:
    """(year, month, day) of a day counted from 1970-01-01, for any integer: Howard
    Hinnant's `civil_from_days` (proleptic Gregorian calendar)."""
    days += 719_468
    era = days // 146_097
    day_of_era = days - era * 146_097
    year_of_era = (
        day_of_era - day_of_era // 1_460 + day_of_era // 36_524 - day_of_era // 146_096
    ) // 365
    day_of_year = day_of_era - (365 * year_of_era + year_of_era // 4 - year_of_era // 100)
    month_index = (5 * day_of_year + 2) // 153
    day = day_of_year - (153 * month_index + 2) // 5 + 1
    month = month_index + 3 if month_index < 10 else month_index - 9
    return year_of_era + era * 400 + (month <= 2), month, day


def rfc3339(ms: int) -> str:
    """RFC 3339 in UTC with milliseconds, as the API and the events show every date-time:
    `2024-05-01T12:00:00.123Z` (a year past 9999 shows all its digits)."""
    days, rest = divmod(ms, _DAY_MS)
    year, month, day = _civil(days)
    seconds, millis = divmod(rest, 1000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    return f"{year:04d}-{month:02d}-{day:02d}T{hour:02d}:{minute:02d}:{second:02d}.{millis:03d}Z"


def iso(ms: int | None) -> str | None:
    """`rfc3339`, or None for a date-time that is not set."""
    return None if ms is None else rfc3339(ms)


def ms_of(moment: datetime) -> int:
    """The milliseconds of an aware date-time (exact: no float in between)."""
    return (moment - _EPOCH) // _MS


def parse_iso_ms(text: str) -> int | None:
    """Milliseconds of an RFC 3339 date-time with a zone, or None if it is not one."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return None
    if moment.tzinfo is None:
        return None
    return ms_of(moment)
