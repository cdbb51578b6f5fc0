"""An operation's recipients, as accepted: each one's addresses and template variables."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["Recipient", "RecipientAddress"]


class RecipientAddress(msgspec.Struct, frozen=True, array_like=True):
    """One address of a recipient; stored as the JSON array `[address, channel]`."""

    address: str
    channel: str  # PHONE, EMAIL, ...


class Recipient(msgspec.Struct, frozen=True, omit_defaults=True):
    """A recipient of an operation, stored (and encoded) as the request's normalized
    object: `{"addresses": [[address, channel], ...], "variables": {...}}`."""

    addresses: list[RecipientAddress]  # at least one, in the order they are tried
    variables: dict[str, Any] | None = None
