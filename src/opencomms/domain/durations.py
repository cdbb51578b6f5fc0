"""Durations written as in the operator's configuration: "500ms", "60s", "5m", "72h"."""

from __future__ import annotations

import re

__all__ = ["format_duration", "parse_duration_ms"]

# at most 15 digits before the point: longer is never meant, and would reach infinity
_DURATION = re.compile(r"^\s*([0-9]{1,15}(?:\.[0-9]{1,15})?)\s*(ms|s|m|h|d)\s*\Z")
_UNIT_MS = {"ms": 1, "s": 1000, "m": 60_000, "h": 3_600_000, "d": 86_400_000}


def parse_duration_ms(text: str) -> int | None:
    """Milliseconds in `text`, or None when it is not a duration."""
    match = _DURATION.match(text)
    if match is None:
        return None
    return round(float(match.group(1)) * _UNIT_MS[match.group(2)])


def format_duration(ms: int) -> str:
    """The shortest exact form of `ms` milliseconds."""
    for unit in ("d", "h", "m", "s"):
        if ms and ms % _UNIT_MS[unit] == 0:
            return f"{ms // _UNIT_MS[unit]}{unit}"
    return f"{ms}ms"
