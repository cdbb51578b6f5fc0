"""Parts of a long message, and receipts that came before their submit's answer.

A long SMS may be sent in several parts, each with the provider's own id; a provider
reports on each part. A receipt may also overtake the answer that tells which attempt its
id belongs to: it waits until that answer is recorded.
"""

from __future__ import annotations

import msgspec

__all__ = ["EarlyReceipt", "Part"]


class Part(msgspec.Struct, frozen=True):
    """One part of an attempt, by the provider's id, with its last reported status."""

    provider_message_id: str
    attempt_id: str
    part: int  # 1 for the first
    status: str


class EarlyReceipt(msgspec.Struct, frozen=True):
    """A receipt whose provider id no attempt or part carries yet."""

    provider_message_id: str
    status: str
    error_code: int | None
    error_message: str | None
    received_at: int
