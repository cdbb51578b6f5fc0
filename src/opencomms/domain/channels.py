"""Channels: which sender channel can reach which recipient channel."""

from __future__ import annotations

from enum import StrEnum

__all__ = ["RecipientChannel", "SenderChannel", "reaches"]


class SenderChannel(StrEnum):
    RCS = "RCS"
    WHATSAPP = "WHATSAPP"
    SMS = "SMS"
    EMAIL = "EMAIL"


class RecipientChannel(StrEnum):
    PHONE = "PHONE"
    WHATSAPP = "WHATSAPP"
    EMAIL = "EMAIL"


_REACH: dict[str, frozenset[str]] = {
    RecipientChannel.PHONE: frozenset(
        {SenderChannel.RCS, SenderChannel.WHATSAPP, SenderChannel.SMS}
    ),
    RecipientChannel.WHATSAPP: frozenset({SenderChannel.WHATSAPP}),
    RecipientChannel.EMAIL: frozenset({SenderChannel.EMAIL}),
}


def reaches(sender_channel: str, recipient_channel: str) -> bool:
    """True when a sender on `sender_channel` can carry a message to that recipient channel."""
    return sender_channel in _REACH.get(recipient_channel, frozenset())
