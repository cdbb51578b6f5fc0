"""Text to SMPP short messages and back: GSM 03.38 septets, UCS-2, and UDH concatenation.

GSM-7 text is sent unpacked, one septet per octet (SMPP's data_coding 0 is the
SMSC default alphabet, which SMSCs take unpacked), an extension character as ESC
(0x1B) and its code. Anything else is UCS-2 (data_coding 8), UTF-16-BE. A text of
more than one part is cut by `segments.split`, so an escape pair or a surrogate pair
is never split, and each part carries the 8-bit concatenation UDH
`05 00 03 ref total seq` with esm_class 0x40 (UDHI).
"""

from __future__ import annotations

from dataclasses import dataclass

from opencomms.domain.segments import GSM7_BASIC, GSM7_EXTENSION, measure, split

__all__ = [
    "ESM_UDHI",
    "UCS2",
    "EncodedPart",
    "decode_text",
    "encode_parts",
    "gsm7_decode",
    "gsm7_encode",
    "strip_udh",
]

ESC = 0x1B
UCS2 = 0x08
LATIN1 = 0x03
ESM_UDHI = 0x40

# GSM7_BASIC leaves ESC out, so every character after 0x1A sits one place early
_BASIC_CODES: dict[str, int] = {
    char: index if index < ESC else index + 1 for index, char in enumerate(GSM7_BASIC)
}
_EXTENSION_CODES: dict[str, int] = dict(
    zip(GSM7_EXTENSION, (0x0A, 0x14, 0x28, 0x29, 0x2F, 0x3C, 0x3D, 0x3E, 0x40, 0x65), strict=True)
)
_BASIC_CHARS: dict[int, str] = {code: char for char, code in _BASIC_CODES.items()}
_EXTENSION_CHARS: dict[int, str] = {code: char for char, code in _EXTENSION_CODES.items()}


@dataclass(frozen=True, slots=True)
class EncodedPart:
    """One submit_sm's worth of a text: what goes in data_coding, esm_class and
    short_message."""

    data_coding: int
    esm_class: int
    short_message: bytes


def gsm7_encode(text: str) -> bytes:
    """Unpacked septets; KeyError for a character outside the GSM 03.38 alphabet."""
    out = bytearray()
    for char in text:
        code = _BASIC_CODES.get(char)
        if code is None:
            out += bytes((ESC, _EXTENSION_CODES[char]))
        else:
            out.append(code)
    return bytes(out)


def gsm7_decode(data: bytes) -> str:
    """Unpacked septets to text; an unknown escape reads as its basic character, as
    23.038 asks of a receiver, and an octet above 0x7F as latin-1."""
    chars: list[str] = []
    escaped = False
    for octet in data:
        if escaped:
            escaped = False
            chars.append(_EXTENSION_CHARS.get(octet) or _BASIC_CHARS.get(octet, " "))
        elif octet == ESC:
            escaped = True
        else:
            chars.append(_BASIC_CHARS.get(octet) or chr(octet))
    return "".join(chars)


def encode_parts(text: str, reference: int, gsm_data_coding: int = 0) -> list[EncodedPart]:
    """The submit_sm payloads of `text`; `reference` (0-255) tags the parts of one text."""
    gsm = measure(text).encoding == "GSM-7"
    data_coding = gsm_data_coding if gsm else UCS2
    payloads = [_encode(part, gsm=gsm) for part in split(text)]
    if len(payloads) == 1:
        return [EncodedPart(data_coding, 0, payloads[0])]
    total = len(payloads)
    return [
        EncodedPart(data_coding, ESM_UDHI, bytes((5, 0, 3, reference & 0xFF, total, seq)) + payload)
        for seq, payload in enumerate(payloads, start=1)
    ]


def _encode(text: str, *, gsm: bool) -> bytes:
    return gsm7_encode(text) if gsm else text.encode("utf-16-be", "surrogatepass")


def strip_udh(short_message: bytes, esm_class: int) -> bytes:
    """The user data without its header, when esm_class says one is there."""
    if not esm_class & ESM_UDHI or not short_message:
        return short_message
    return short_message[1 + short_message[0] :]


def decode_text(data: bytes, data_coding: int) -> str:
    """A received short message as text: 0 the SMSC default alphabet (GSM 03.38
    unpacked; plain ASCII letters and digits read the same), 3 latin-1, 8 UCS-2;
    anything else is read as latin-1 rather than dropped."""
    if data_coding == UCS2:
        return data.decode("utf-16-be", "replace")
    if data_coding == 0:
        return gsm7_decode(data)
    return data.decode("latin-1")
