"""Candidates: the ways a Message may reach its recipient, in the order they are tried.

One candidate per (recipient address, operation sender) pair where the sender's channel
reaches the address's channel, in the recipient's address order, then the operation's
sender order. A Message stores them with itself at fan-out; each fallback moves to the
next one.
"""

from __future__ import annotations

import msgspec

__all__ = ["Candidate"]


class Candidate(msgspec.Struct, frozen=True, array_like=True):
    """One way to reach a recipient: one of its addresses, by one sender.

    `array_like`: stored (and encoded) as the JSON array `[address, channel, sender_id]`,
    the format the `messages.candidates` column has always held."""

    address: str
    channel: str  # the recipient address's channel (PHONE, EMAIL, ...)
    sender_id: str
