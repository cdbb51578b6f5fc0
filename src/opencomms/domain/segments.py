"""SMS accounting: which encoding a text needs and how many parts it is sent in.

A text goes out in the GSM 7-bit default alphabet (3GPP TS 23.038, formerly
GSM 03.38) when every character is in its basic table or its extension table,
and in UCS-2 otherwise. A single SMS carries 160 septets or 70 UTF-16 code
units; a longer text is sent as concatenated parts, each of which loses room
to the concatenation header (UDH): 153 septets or 67 code units per part.

Two things may never be cut between parts, because the receiving phone
decodes each part on its own:

- an extension character, sent as the pair ESC + char (2 septets);
- a UTF-16 surrogate pair (a character outside the BMP, e.g. most emoji).

When such a pair does not fit in the room left in a part, the whole pair
moves to the next part and the septet or code unit left over is wasted, so
the part count is not always ``ceil(units / 153)``.

National language shift tables (Turkish, Spanish, Portuguese, Indian
languages) are not used: text outside the default alphabet is UCS-2.
"""

from __future__ import annotations

import re
from typing import Literal, NamedTuple

__all__ = [
    "GSM7_BASIC",
    "GSM7_EXTENSION",
    "Encoding",
    "SmsSize",
    "measure",
    "split",
]

# The GSM 03.38 default alphabet, in code order, 16 code points per row.
# 0x1B (ESC, the escape to the extension table) is not a character and is left out,
# so the table holds 127 characters. Traps: 0x02 is "$" and 0x24 is "¤";
# 0x00 is "@", 0x40 is "¡" and 0x60 is "¿"; 0x09 is capital "Ç" (lower-case "ç"
# is not in the alphabet); "`" is not in the alphabet; the Greek capitals are the
# Greek letters (U+0394 "Δ"), not look-alike symbols such as U+2206 or U+2126.
GSM7_BASIC: str = (
    "@£$¥èéùìòÇ\nØø\rÅå"  # 0x00-0x0F
    "Δ_ΦΓΛΩΠΨΣΘΞÆæßÉ"  # 0x10-0x1F, without 0x1B ESC
    " !\"#¤%&'()*+,-./"  # 0x20-0x2F
    "0123456789:;<=>?"  # 0x30-0x3F
    "¡ABCDEFGHIJKLMNO"  # 0x40-0x4F
    "PQRSTUVWXYZÄÖÑÜ§"  # 0x50-0x5F
    "¿abcdefghijklmno"  # 0x60-0x6F
    "pqrstuvwxyzäöñüà"  # 0x70-0x7F
)

# The extension table: each of these is sent as ESC + char and costs 2 septets.
# "\f" (form feed, ESC 0x0A) is the page break.
GSM7_EXTENSION: str = "\f^{}\\[~]|€"

Encoding = Literal["GSM-7", "UCS-2"]


class SmsSize(NamedTuple):
    """The encoding of a text, its number of parts and its size in that encoding."""

    encoding: Encoding
    segments: int
    """Number of SMS parts; the empty text is 1 part."""
    units: int
    """Septets for GSM-7 (an extension character counts 2), UTF-16 code units for UCS-2."""


_GSM7_SINGLE = 160
_GSM7_PART = 153
_UCS2_SINGLE = 70
_UCS2_PART = 67

_GSM7_CHARS = frozenset(GSM7_BASIC + GSM7_EXTENSION)
_GSM7_EXTENSION_CHARS = frozenset(GSM7_EXTENSION)
_GSM7_WIDE = re.compile("[" + re.escape(GSM7_EXTENSION) + "]")
# A character outside the BMP, or a surrogate pair left as two code points (as some
# JSON decoders and "surrogatepass" decoding produce): either is 2 code units and
# must stay whole. Lone surrogates are 1 code unit each.
_UCS2_WIDE = re.compile("[\U00010000-\U0010ffff]|[\ud800-\udbff][\udc00-\udfff]")


def measure(text: str) -> SmsSize:
    """The encoding, part count and size of `text` as an SMS."""
    chars = set(text)
    if chars <= _GSM7_CHARS:
        wide = chars & _GSM7_EXTENSION_CHARS
        units = len(text) + sum(text.count(char) for char in wide)
        if units <= _GSM7_SINGLE:
            return SmsSize("GSM-7", 1, units)
        if not wide:
            return SmsSize("GSM-7", -(-units // _GSM7_PART), units)
        return SmsSize("GSM-7", len(_part_ends(text, _GSM7_WIDE, _GSM7_PART)), units)
    units = len(text.encode("utf-16-le", "surrogatepass")) // 2
    if units <= _UCS2_SINGLE:
        return SmsSize("UCS-2", 1, units)
    if _UCS2_WIDE.search(text) is None:  # no 2-unit character to keep whole
        return SmsSize("UCS-2", -(-units // _UCS2_PART), units)
    return SmsSize("UCS-2", len(_part_ends(text, _UCS2_WIDE, _UCS2_PART)), units)


def split(text: str) -> list[str]:
    """The text of each SMS part, in order; joined they give back `text`.

    There are always ``measure(text).segments`` parts (``[""]`` for the empty text).
    """
    size = measure(text)
    if size.segments == 1:
        return [text]
    if size.encoding == "GSM-7":
        ends = _part_ends(text, _GSM7_WIDE, _GSM7_PART)
    else:
        ends = _part_ends(text, _UCS2_WIDE, _UCS2_PART)
    starts = [0, *ends[:-1]]
    return [text[start:end] for start, end in zip(starts, ends, strict=True)]


def _part_ends(text: str, wide: re.Pattern[str], room: int) -> list[int]:
    """End index (exclusive) in `text` of each part, packing greedily.

    Every match of `wide` costs 2 units and must stay in one part; every other
    character costs 1. Runs of 1-unit characters are packed arithmetically, so the
    cost is one step per 2-unit match and per part rather than per character.
    Greedy packing gives the fewest parts, and is what phones and SMSCs do.
    """
    ends: list[int] = []
    used = 0  # units in the current part
    pos = 0  # index in `text` of the next character to place

    def narrow_run(stop: int) -> None:
        nonlocal used, pos
        while pos < stop:
            if used == room:
                ends.append(pos)
                used = 0
            take = min(room - used, stop - pos)
            pos += take
            used += take

    for match in wide.finditer(text):
        narrow_run(match.start())
        if used + 2 > room:
            ends.append(pos)
            used = 0
        used += 2
        pos = match.end()
    narrow_run(len(text))
    ends.append(len(text))
    return ends
