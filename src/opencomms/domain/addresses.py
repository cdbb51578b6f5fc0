"""Recipient addresses: the cheap syntactic checks done on the request path.

Full libphonenumber validation costs ~60 µs a number (0.6 s for 10,000), so the accept
path checks the E.164 form only, and carriers report numbers that do not exist.
"""

from __future__ import annotations

import re

from opencomms.domain.channels import RecipientChannel

__all__ = ["E164", "EMAIL", "WHATSAPP_PREFIX", "normalize_address"]

E164 = re.compile(r"^\+[1-9][0-9]{1,14}\Z")
EMAIL = re.compile(r"^[^@\s]{1,64}@[^@\s]+\.[^@\s]{2,}\Z")
WHATSAPP_PREFIX = "whatsapp:"


def normalize_address(address: str, channel: str) -> str | None:
    """The canonical form of `address` on `channel`, or None when it is not valid there."""
    if channel == RecipientChannel.EMAIL:
        return address.lower() if len(address) <= 254 and EMAIL.match(address) else None
    if channel == RecipientChannel.WHATSAPP and address.startswith(WHATSAPP_PREFIX):
        address = address[len(WHATSAPP_PREFIX) :]
    return address if E164.match(address) else None
