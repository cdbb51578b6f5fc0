"""Hostile values for the fuzz run: what a careless or malicious client may put anywhere.

Fixed edge cases are drawn more often than random noise, so that a short, deterministic
run meets every class: NUL and control bytes, lone surrogates, huge strings, numbers past
every range, NaN, far and impossible dates, wrong types, deep nesting, unicode oddities,
empty and odd keys. `Raw` is a JSON fragment that `json.dumps` cannot write (nesting
100,000 deep, `1e400`, a duplicate key); `encode_json` splices it in.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any, TypeVar

from hypothesis import strategies as st

__all__ = [
    "FAR_DATES",
    "URL_TEXT",
    "Raw",
    "encode_json",
    "hostile",
    "hostile_keys",
    "hostile_text",
    "mutated",
    "numbers",
    "pick",
    "wrong_types",
]

T = TypeVar("T")
# the longest hostile text in a URL's path or query: a request line past the HTTP parser's
# limit is the transport's refusal, outside what the run checks
URL_TEXT = 300
# far over every field's cap, well under the server's 16 MiB body limit
HUGE = 300_000


@dataclass(frozen=True)
class Raw:
    """A JSON fragment written as is."""

    text: str


ODD_STRINGS = [
    "",
    " ",
    "\x00",
    "a\x00b",
    "\x00" * 64,
    "\x01\x02\x1b[31m\x7f",
    "\x85\x9f",  # C1 controls
    "\ud800",
    "\udfff",
    "a\udc80b",
    "\ufeff",
    "\u202eevil",
    "\u200b",
    "\u2028\u2029",
    "\ufffe\uffff",
    "\U0010ffff",
    "e\u0301",
    "İ",
    "ß",
    "ﬃ",
    "ſms",  # uppercases to SMS
    "emaıl",  # uppercases to EMAIL
    "👍🏽",
    "＋１４１５５５５０１００",  # fullwidth digits
    "+١٤١٥٥٥٥٠١٠٠",  # Arabic-Indic digits
    "\r\n",
    "\t",
    "\\",
    '"',
    "'",
    "%00",
    "%ED%A0%80",
    "../../etc/passwd",
    "null",
    "true",
    "0",
    "-1",
    "NaN",
    "1e400",
    "<script>alert(1)</script>",
    "' OR 1=1 --",
    "{{",
    "{%",
    "{{ x | upcase }}",
    "{% if x %}y{% endif %}",
    "{% raw %}",
    "~",
    "comms_message_",
    "comms_operation_01h2xcejqtf2nbrexx3vqjhp41",
    "comms_sender_00000000000000000000000000",
    "SM" + "0" * 32,
    "+14155550100",
    "a@example.com",
    "http://127.0.0.1:9/",
    "PHONE",
    "sms",
    "2030-01-01T00:00:00Z",
]
FAR_DATES = [
    "9999-12-31T23:59:59Z",
    "9999-12-31T23:59:59.999999Z",
    "0001-01-01T00:00:00Z",
    "0000-01-01T00:00:00Z",
    "10000-01-01T00:00:00Z",
    "+275760-09-13T00:00:00Z",
    "-000001-01-01T00:00:00Z",
    "1969-12-31T23:59:59Z",
    "1970-01-01T00:00:00Z",
    "2038-01-19T03:14:08Z",
    "2106-02-07T06:28:16Z",
    "3000-01-01T00:00:00Z",
    "2024-02-30T00:00:00Z",
    "2024-12-31T23:59:60Z",
    "2024-01-01T24:00:00Z",
    "2030-01-01T00:00:00+14:00",
    "2030-01-01T00:00:00-23:59",
    "2030-01-01T00:00:00+99:99",
    "2030-01-01T00:00:00.123456789123Z",
    "2030-01-01t00:00:00z",
    "2030-01-01 00:00:00Z",
    "2030-01-01",
    "2030-01-01T00:00:00",
    "9999-12-31T23:59:59",
    "0001-01-01T00:00:00",
    "2030-06-01T09:00:00.5",
    "2030-W01-1T00:00:00Z",
    "20300101T000000Z",
]
NUMBERS: list[Any] = [
    0,
    -1,
    1,
    2**31 - 1,
    2**31,
    -(2**31) - 1,
    2**53 + 1,
    2**63 - 1,
    2**63,
    -(2**63) - 1,
    2**64,
    10**30,
    -(10**30),
    10**1000,
    0.5,
    -0.0,
    1e308,
    -1e308,
    5e-324,
    float("nan"),
    float("inf"),
    float("-inf"),
]
RAW = [
    Raw("[" * 100_000 + "]" * 100_000),
    Raw('{"a":' * 10_000 + "1" + "}" * 10_000),
    Raw("[" * 33 + "1" + "]" * 33),
    Raw("1e400"),
    Raw("-1e400"),
    Raw('{"a": 1, "a": 2}'),
    Raw('"\\ud800"'),
    Raw('"\\u0000"'),
    Raw('"a\x01b"'),
    Raw("0x10"),
    Raw("01"),
    Raw(".5"),
    Raw("[1,]"),
    Raw("undefined"),
]

odd_characters = st.characters(exclude_categories=())  # every code point, surrogates too


# Strategies are built once (`cache`): building one per draw costs more than the request.


def pick(values: Sequence[T]) -> st.SearchStrategy[T]:
    """`sampled_from(values)` whose description does not spell out long values (Hypothesis
    builds it, at a cost, and warns past 30 kB)."""
    return st.sampled_from(range(len(values))).map(values.__getitem__)


@cache
def numbers() -> st.SearchStrategy[Any]:
    return st.one_of(
        st.sampled_from(NUMBERS),
        st.integers(min_value=-(2**70), max_value=2**70),
        st.floats(),
    )


@cache
def wrong_types() -> st.SearchStrategy[Any]:
    return st.sampled_from([None, True, False, [], {}, [None], {"": None}, 0, "", [[]], [{}]])


@cache
def hostile_text(max_size: int = HUGE) -> st.SearchStrategy[str]:
    """A string: an edge case, a far date, random code points, or a long run of one."""
    runs = st.tuples(
        st.sampled_from(["x", "é", "\x00", "9", "{{ a }}", "👍", " "]),
        st.sampled_from(sorted({min(n, max_size) for n in (1_000, 10_001, 65_536, HUGE)})),
    ).map(lambda pair: pair[0] * pair[1])
    return st.one_of(
        st.sampled_from(ODD_STRINGS),
        st.sampled_from(FAR_DATES),
        st.text(odd_characters, max_size=min(40, max_size)),
        runs,
    ).map(lambda text: text[:max_size])


@cache
def hostile_keys() -> st.SearchStrategy[str]:
    return st.one_of(
        pick(["", "\x00", " ", "__proto__", "a" * 10_000, "\ud800", "$where", "ﬃ"]),
        st.text(odd_characters, max_size=12),
    )


@cache
def _scalar() -> st.SearchStrategy[Any]:
    return st.one_of(
        hostile_text(),
        hostile_text(),
        numbers(),
        wrong_types(),
        pick(RAW),
    )


@cache
def hostile() -> st.SearchStrategy[Any]:
    """Any JSON value (or fragment) a client should not send in that place. Two levels at
    most: deep nesting comes from `RAW` (st.recursive costs four times more per draw)."""
    scalar = _scalar()
    return st.one_of(
        scalar,
        scalar,
        scalar,
        st.lists(scalar, max_size=4),
        st.dictionaries(hostile_keys(), scalar, max_size=4),
        st.lists(st.lists(scalar, max_size=2), max_size=2),
    )


def encode_json(value: Any, *, ascii_only: bool = True) -> bytes:
    """`value` as JSON bytes, `Raw` fragments spliced in; NaN and infinities are written as
    Python does (not JSON); without `ascii_only`, lone surrogates become invalid UTF-8."""
    fragments: list[str] = []

    def mark(item: Any) -> str:
        if not isinstance(item, Raw):
            raise TypeError(f"cannot encode {item!r}")
        fragments.append(item.text)
        return f"\x1araw{len(fragments) - 1}\x1a"

    text = json.dumps(value, default=mark, ensure_ascii=ascii_only)
    for index, fragment in enumerate(fragments):
        placeholder = json.dumps(f"\x1araw{index}\x1a", ensure_ascii=ascii_only)
        text = text.replace(placeholder, fragment, 1)
    return text.encode("utf-8", "surrogatepass")


# -- damage ---------------------------------------------------------------------------------

Path = tuple[str | int, ...]


def _paths(value: Any, prefix: Path = ()) -> list[Path]:
    """Every place in `value`: itself, then each member, depth first."""
    found = [prefix]
    if isinstance(value, dict):
        for key, item in value.items():
            found += _paths(item, (*prefix, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found += _paths(item, (*prefix, index))
    return found


def _at(value: Any, path: Path, change: Callable[[Any], Any]) -> Any:
    """A copy of `value` with the part at `path` replaced by `change(part)`."""
    if not path:
        return change(value)
    head, rest = path[0], path[1:]
    copy: Any = dict(value) if isinstance(value, dict) else list(value)
    copy[head] = _at(value[head], rest, change)
    return copy


def _without(value: Any, path: Path) -> Any:
    """A copy of `value` without the member at `path` (a non-empty path)."""

    def drop(parent: Any) -> Any:
        copy: Any = dict(parent) if isinstance(parent, dict) else list(parent)
        del copy[path[-1]]
        return copy

    return _at(value, path[:-1], drop)


def _constant(new: Any) -> Callable[[Any], Any]:
    return lambda _: new


def _adding(key: str, extra: Any) -> Callable[[Any], Any]:
    """Add `key: extra` to an object, `extra` to an array; a scalar becomes `extra`."""

    def add(value: Any) -> Any:
        if isinstance(value, dict):
            return {**value, key: extra}
        if isinstance(value, list):
            return [*value, extra]
        return extra

    return add


_DAMAGES = st.sampled_from([0, 0, 0, 1, 1, 2, 3])
_ACTIONS = st.sampled_from(["replace", "replace", "drop", "add"])
_INDEX = st.integers(min_value=0, max_value=2**16)


@st.composite
def mutated(draw: st.DrawFn, valid: st.SearchStrategy[Any]) -> Any:
    """A body of the contract's shape, whole (3 times in 7) or damaged 1-3 times."""
    body = draw(valid)
    for _ in range(draw(_DAMAGES)):
        paths = _paths(body)
        path = paths[draw(_INDEX) % len(paths)]
        action = draw(_ACTIONS)
        if action == "replace":
            body = _at(body, path, _constant(draw(hostile())))
        elif action == "drop" and path:
            body = _without(body, path)
        else:
            body = _at(body, path, _adding(draw(hostile_keys()), draw(hostile())))
    return body
