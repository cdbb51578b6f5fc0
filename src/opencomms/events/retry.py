"""When to try a failed delivery again: exponential backoff with jitter, `Retry-After`
honoured, for up to 72 hours by default (Twilio's Event Streams give up after 4)."""

from __future__ import annotations

import random
from email.utils import parsedate_to_datetime

__all__ = ["backoff_ms", "retry_after_ms"]

FIRST_MS = 1_000
LONGEST_MS = 3_600_000  # never more than an hour between tries


def backoff_ms(tries: int, *, rng: random.Random | None = None) -> int:
    """Delay before try `tries + 1`: 1 s, 2 s, 4 s … up to an hour, ±50 % jitter so that
    many sinks failing at once do not come back in step."""
    base = min(FIRST_MS * 2 ** min(tries, 32), LONGEST_MS)
    return int(base * (rng or random).uniform(0.5, 1.5))


def retry_after_ms(header: str | None, now_ms: int) -> int | None:
    """A `Retry-After` value (seconds, or an HTTP date) as a delay in ms, or None."""
    if not header:
        return None
    text = header.strip()
    if text.isdigit():
        return min(int(text) * 1000, 24 * LONGEST_MS)
    try:
        moment = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    return max(0, min(int(moment.timestamp() * 1000) - now_ms, 24 * LONGEST_MS))
