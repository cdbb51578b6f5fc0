"""The size of the values a template makes, and the bound on it.

Every value a template builds goes through a filter (`assign`, `capture` and output only
store or write what filters made; `capture` and output have their own character bounds).
So bounding each filter's input, arguments and result bounds every intermediate value:
a chain like `{% assign a = a | append: a %}` stops at the bound instead of doubling to
gigabytes. Two filters can make a result far larger than what they are given
(`replace` multiplies, `join` repeats its separator); their result is measured before
it is built.
"""

from __future__ import annotations

from collections.abc import Callable, Sized
from typing import Any

from liquid.exceptions import ResourceLimitError

__all__ = ["ValueLimitError", "guarded", "size_of"]

_DIGITS_PER_BIT = 0.30103  # log10(2)
_NUMBER = 24  # a float or a Decimal prints in a few characters


class ValueLimitError(ResourceLimitError):
    """A value a template made, or was about to make, is over the bound."""


def _digits(number: int) -> int:
    return int(number.bit_length() * _DIGITS_PER_BIT) + 1


def size_of(value: Any) -> int:
    """Characters, roughly, that `value` holds or prints as: a string's length, a
    number's digits, a list's items (and each item's size), a range's numbers."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 1
    if isinstance(value, int):
        return _digits(value)
    if isinstance(value, range):
        return len(value) * _digits(max(abs(value.start), abs(value.stop)))
    if isinstance(value, list | tuple):
        return len(value) + sum(size_of(item) for item in value)
    if isinstance(value, dict):
        return len(value) + sum(size_of(k) + size_of(v) for k, v in value.items())
    return _NUMBER


def _text(value: Any) -> str:
    return value if isinstance(value, str) else str(value)


def _replaced_size(left: Any, old: Any = "", new: Any = "", *_: Any) -> int:
    text, old, new = _text(left), _text(old), _text(new)
    found = text.count(old) if old else len(text) + 1
    return len(text) + found * (len(new) - len(old))


def _joined_size(left: Any, separator: Any = " ", *_: Any) -> int:
    if not isinstance(left, Sized) or isinstance(left, str):
        return size_of(left)
    return size_of(left) + max(len(left) - 1, 0) * len(_text(separator))


# the size of a filter's result, known before it runs, for those that can outgrow the
# sum of their input and arguments
_RESULT_SIZE: dict[str, Callable[..., int]] = {
    "replace": _replaced_size,
    "join": _joined_size,
}


def _check(name: str, value: Any, limit: int) -> None:
    if size_of(value) > limit:
        raise ValueLimitError(f"{name}: a value over {limit} characters", token=None)


def guarded(
    name: str, function: Callable[..., Any], limit: int, left: Any, *args: Any, **kwargs: Any
) -> Any:
    """Call the filter `function` (named `name`) if neither what it is given nor what it
    would make is over `limit` characters."""
    _check(name, left, limit)
    for argument in (*args, *kwargs.values()):
        _check(name, argument, limit)
    result_size = _RESULT_SIZE.get(name)
    if result_size is not None and result_size(left, *args) > limit:
        raise ValueLimitError(f"{name}: a value over {limit} characters", token=None)
    result = function(left, *args, **kwargs)
    _check(name, result, limit)
    return result
