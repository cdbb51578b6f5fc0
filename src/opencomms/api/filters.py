"""Query filters shared by the list endpoints."""

from __future__ import annotations

from opencomms.api.errors import FieldError
from opencomms.domain.ids import ulid_floor
from opencomms.engine.clock import parse_iso_ms

__all__ = ["date_bounds", "enum_filter"]


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
    bounds = []
    for name, default in (("startDate", ""), ("endDate", "~")):
        text = query.get(name)
        moment = parse_iso_ms(text) if text else None
        if text and moment is None:
            errors.append(FieldError(name, "must be an RFC 3339 date-time with a zone"))
        bounds.append(ulid_floor(prefix, moment) if moment is not None else default)
    since, until = bounds
    if since and until != "~" and until <= since:
        errors.append(FieldError("endDate", "must be after startDate"))
    return since, until
