"""Query filters shared by the list endpoints."""

from __future__ import annotations

from opencomms.api.errors import FieldError
from opencomms.domain.clock import parse_iso_ms
from opencomms.domain.ids import ulid_floor

__all__ = ["date_bounds", "enum_filter"]

_ULID_MAX_MS = 2**48 - 1  # the largest time a ULID can hold (year 10889)


def enum_filter(
    query: dict[str, str], name: str, allowed: set[str], errors: list[FieldError]
) -> str | None:
    value = query.get(name)
    if value is None:
        return None
    if value.upper() not in allowed:
        errors.append(FieldError(name, f"must be one of {', '.join(sorted(allowed))}"))
        return None
    return value.upper()


def date_bounds(query: dict[str, str], prefix: str, errors: list[FieldError]) -> tuple[str, str]:
    """`startDate`/`endDate` as bounds on ids, which sort by creation time."""
    moments: dict[str, int | None] = {}
    for name in ("startDate", "endDate"):
        text = query.get(name)
        moments[name] = parse_iso_ms(text) if text else None
        if text and moments[name] is None:
            errors.append(FieldError(name, "must be an RFC 3339 date-time with a zone"))
    start, end = moments["startDate"], moments["endDate"]
    if start is not None and end is not None and end <= start:
        errors.append(FieldError("endDate", "must be after startDate"))
    # ids hold 1970 to 10889: a date outside is the nearest end, not an error
    since = "" if start is None else ulid_floor(prefix, min(max(start, 0), _ULID_MAX_MS))
    until = "~" if end is None else ulid_floor(prefix, min(max(end, 0), _ULID_MAX_MS))
    return since, until
