"""Paging: `pageSize` 1–1000 (default 50), opaque `pageToken`s, keyset over ids.

A token carries the id the next page starts below; pages cost the same at any depth.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import msgspec

from opencomms.api.errors import FieldError

__all__ = ["Page", "page_envelope", "parse_page"]

DEFAULT_SIZE = 50
MAX_SIZE = 1_000
_TOP = "~"  # sorts after every id
_SIZE = re.compile(r"[0-9]{1,4}")  # ASCII digits: str.isdigit() also takes "²", which int() refuses
_BOUND = re.compile(r"~|[A-Za-z0-9_]{1,100}")  # an id (or the top): nothing else reaches SQL


class Page(NamedTuple):
    size: int
    before: str
    token: str


class _Token(msgspec.Struct):
    b: str


def _encode(before: str) -> str:
    raw = msgspec.json.encode(_Token(before))
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _decode(token: str) -> str | None:
    try:
        raw = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        before = msgspec.json.decode(raw, type=_Token).b
    except (binascii.Error, ValueError, msgspec.DecodeError):
        return None
    return before if _BOUND.fullmatch(before) else None


def parse_page(query: Mapping[str, str], errors: list[FieldError]) -> Page:
    """The page asked for; problems go to `errors`."""
    size = DEFAULT_SIZE
    raw_size = query.get("pageSize", query.get("page_size"))
    if raw_size is not None:
        if not _SIZE.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_SIZE:
            errors.append(FieldError("pageSize", f"must be an integer from 1 to {MAX_SIZE}"))
        else:
            size = int(raw_size)
    token = query.get("pageToken", query.get("page_token"))
    before = _TOP
    if token:
        decoded = _decode(token)
        if decoded is None:
            errors.append(FieldError("pageToken", "is not a token this API issued"))
        else:
            before = decoded
    return Page(size, before, token or _encode(_TOP))


def page_envelope(
    key: str, items: Sequence[Any], page: Page, rows_fetched: Sequence[Any], last_id: str | None
) -> dict[str, Any]:
    """`{key: items, "pagination": {"next", "self"}}`; `rows_fetched` holds one row more
    than the page when there is a next page."""
    has_next = len(rows_fetched) > page.size and last_id is not None
    return {
        key: items,
        "pagination": {
            "next": _encode(last_id) if has_next and last_id else None,
            "self": page.token,
        },
    }
