"""Text the database can store: what both engines take, and provider text made so.

PostgreSQL's `text` refuses the NUL character (U+0000), and neither engine takes a lone
surrogate (U+D800 to U+DFFF: Python can hold one, UTF-8 cannot encode it). SQLite would
keep a NUL, but then the same data would work on one engine and not on the other, so
both refuse it alike. Every other code point is stored as it is.

What a client sends is refused at accept when it holds such a character (the API names
the field); what a provider sends cannot be refused, so it is stored with each such
character replaced by U+FFFD, the Unicode replacement character.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from typing import Any, TypeVar

import msgspec

__all__ = [
    "MAX_ID_CHARS",
    "MAX_TAG_CHARS",
    "REPLACEMENT",
    "is_storable",
    "storable_id",
    "storable_struct",
    "storable_text",
    "unstorable_paths",
]

REPLACEMENT = "\ufffd"
# a tag's value, as stored: its (key, value) pair is indexed, and a PostgreSQL b-tree
# entry holds at most about 2.7 kB, which 256 characters of 4 UTF-8 bytes stay under
MAX_TAG_CHARS = 256
# a provider's id, as stored: indexed too (SMPP allows 65 octets; no provider needs more)
MAX_ID_CHARS = 256
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")

S = TypeVar("S", bound=msgspec.Struct)


def is_storable(text: str) -> bool:
    return _UNSTORABLE.search(text) is None


def storable_text(text: str) -> str:
    """`text` with every character the database cannot store replaced by U+FFFD."""
    return _UNSTORABLE.sub(REPLACEMENT, text)


def storable_id(text: str) -> str:
    """A provider's id as stored and matched: storable, and at most MAX_ID_CHARS
    characters. A longer one keeps its start and ends with a digest of the whole, so that
    it still matches itself, and nothing else."""
    text = storable_text(text)
    if len(text) <= MAX_ID_CHARS:
        return text
    digest = hashlib.sha256(text.encode()).hexdigest()
    return f"{text[: MAX_ID_CHARS - len(digest) - 1]}~{digest}"


def unstorable_paths(value: Any, path: str = "") -> Iterator[str]:
    """The path of every string (object key or value) inside decoded JSON that the
    database cannot store: `to[3].variables.name`; a bad key is named by its path."""
    stack: list[tuple[Any, str]] = [(value, path)]
    while stack:
        item, where = stack.pop()
        if isinstance(item, str):
            if not is_storable(item):
                yield where or "body"
        elif isinstance(item, dict):
            children = []
            for key, child in item.items():
                inner = f"{where}.{key}" if where else str(key)
                if is_storable(key):
                    children.append((child, inner))
                else:
                    yield storable_text(inner)
            stack.extend(reversed(children))  # in the document's order
        elif isinstance(item, list):
            stack.extend((item[index], f"{where}[{index}]") for index in reversed(range(len(item))))


def storable_struct(value: S) -> S:
    """`value` (a connector's report) with every text field, and every text in a tuple
    field, made storable; the same object when there was nothing to change."""
    changes: dict[str, Any] = {}
    for name in value.__struct_fields__:
        field = getattr(value, name)
        if isinstance(field, str) and not is_storable(field):
            changes[name] = storable_text(field)
        elif isinstance(field, tuple) and any(
            isinstance(item, str) and not is_storable(item) for item in field
        ):
            changes[name] = tuple(
                storable_text(item) if isinstance(item, str) else item for item in field
            )
    return msgspec.structs.replace(value, **changes) if changes else value
