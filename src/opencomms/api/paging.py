"""Paging: `pageSize` 1–1000 (default 50), opaque `pageToken`s, keyset over ids.

A token carries the id the next page starts below, so pages cost the same at any depth,
and a fingerprint of the list's filters: a token used with other filters is refused
rather than silently continuing another list. It is signed (HMAC-SHA256 with a key
derived from the server's secret key) over its content and the list it was issued for
(the account and the path): a forged or altered token, or one of another account or
list, is a 400 and never reaches a query.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
from collections.abc import Callable, Collection, Mapping, Sequence
from operator import attrgetter
from typing import Any, NamedTuple, TypeVar

import msgspec

from opencomms.api.errors import FieldError, field_path

__all__ = [
    "PAGING_PARAMETERS",
    "TOP",
    "Page",
    "PageTokens",
    "page_envelope",
    "parse_page",
    "unknown_filters",
]

DEFAULT_SIZE = 50
MAX_SIZE = 1_000
TOP = "~"  # sorts after every id
_SIZE = re.compile(r"[0-9]{1,4}")  # ASCII digits: str.isdigit() also takes "²", which int() refuses
_BOUND = re.compile(r"~|[A-Za-z0-9_]{1,100}")  # an id (or the top): nothing else reaches SQL
_MAC_BYTES = 16  # 128 bits of HMAC-SHA256: forging one is out of reach


# ours, snake_case, and Twilio's REST spelling (twilio-python sends `PageSize`)
_SIZE_NAMES = ("pageSize", "page_size", "PageSize")
_TOKEN_NAMES = ("pageToken", "page_token", "PageToken")
PAGING_PARAMETERS = frozenset(_SIZE_NAMES + _TOKEN_NAMES)
UNKNOWN_FILTER = "is not a filter of this list"
T = TypeVar("T")


class _Token(msgspec.Struct):
    b: str
    f: str = ""


class PageTokens:
    """Issues and checks the page tokens of one list (`scope`: its account and path)."""

    def __init__(self, key: bytes, scope: str) -> None:
        self._key = key
        self._scope = scope.encode()

    def encode(self, before: str, filters: str) -> str:
        raw = msgspec.json.encode(_Token(before, filters))
        return base64.urlsafe_b64encode(raw + self._mac(raw)).decode().rstrip("=")

    def decode(self, token: str) -> _Token | None:
        """The token's content, or None unless this server issued it for this list."""
        try:
            signed = base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))
        except (binascii.Error, ValueError):
            return None
        raw, mac = signed[:-_MAC_BYTES], signed[-_MAC_BYTES:]
        if not raw or not hmac.compare_digest(mac, self._mac(raw)):
            return None
        try:
            decoded = msgspec.json.decode(raw, type=_Token)
        except msgspec.DecodeError:
            return None
        return decoded if _BOUND.fullmatch(decoded.b) else None

    def _mac(self, raw: bytes) -> bytes:
        signed = hmac.new(self._key, self._scope + b"\x00" + raw, hashlib.sha256)
        return signed.digest()[:_MAC_BYTES]


class Page(NamedTuple):
    size: int
    before: str
    token: str
    filters: str
    tokens: PageTokens


def _fingerprint(query: Mapping[str, str]) -> str:
    """A short digest of the filters of a list request (everything but paging)."""
    filters = sorted((k, v) for k, v in query.items() if k not in PAGING_PARAMETERS)
    return hashlib.sha256(msgspec.json.encode(filters)).hexdigest()[:16]


def _first(query: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((query[name] for name in names if name in query), None)


def unknown_filters(query: Mapping[str, str], known: Collection[str]) -> list[FieldError]:
    """A query parameter that is neither paging nor one of the list's `known` filters,
    each named: a filter the server does not apply must not look applied."""
    return [
        FieldError(field_path("", name), UNKNOWN_FILTER)
        for name in sorted(query)
        if name not in PAGING_PARAMETERS and name not in known
    ]


def parse_page(
    query: Mapping[str, str],
    errors: list[FieldError],
    tokens: PageTokens,
    filters: Collection[str] = (),
) -> Page:
    """The page asked for; problems go to `errors`, with every query parameter that is
    neither paging nor one of `filters`."""
    errors += unknown_filters(query, filters)
    size = DEFAULT_SIZE
    raw_size = _first(query, _SIZE_NAMES)
    if raw_size is not None:
        if not _SIZE.fullmatch(raw_size) or not 1 <= int(raw_size) <= MAX_SIZE:
            errors.append(FieldError("pageSize", f"must be an integer from 1 to {MAX_SIZE}"))
        else:
            size = int(raw_size)
    filters = _fingerprint(query)
    token = _first(query, _TOKEN_NAMES)
    before = TOP
    if token:
        decoded = tokens.decode(token)
        if decoded is None:
            errors.append(FieldError("pageToken", "is not a token this API issued for this list"))
        elif decoded.f != filters:
            errors.append(FieldError("pageToken", "was issued for a list with other filters"))
        else:
            before = decoded.b
    return Page(size, before, token or tokens.encode(TOP, filters), filters, tokens)


def page_envelope(
    key: str,
    rows: Sequence[T],
    page: Page,
    render: Callable[[T], Any],
    position: Callable[[T], str] = attrgetter("id"),
) -> dict[str, Any]:
    """`{key: [...], "pagination": {"next", "self"}}` from `rows`, fetched with one row
    more than the page so that a next page is known to exist; `position` is the key a
    page continues below."""
    shown = rows[: page.size]
    more = len(rows) > page.size and bool(shown)
    return {
        key: [render(row) for row in shown],
        "pagination": {
            "next": page.tokens.encode(position(shown[-1]), page.filters) if more else None,
            "self": page.token,
        },
    }
