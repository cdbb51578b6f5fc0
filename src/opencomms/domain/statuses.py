"""Statuses of operations, messages and attempts, and which of them are final."""

from __future__ import annotations

from enum import StrEnum

__all__ = [
    "MESSAGE_STATUSES",
    "AttemptStatus",
    "MessageStatus",
    "OperationStatus",
    "is_final",
]


class OperationStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    PROCESSING = "PROCESSING"
    COMPLETED = "COMPLETED"
    CANCELED = "CANCELED"


class MessageStatus(StrEnum):
    SCHEDULED = "SCHEDULED"
    QUEUED = "QUEUED"
    SENT = "SENT"
    DELIVERED = "DELIVERED"
    READ = "READ"
    UNDELIVERED = "UNDELIVERED"
    FAILED = "FAILED"
    CANCELED = "CANCELED"


# An attempt moves through the same states as the message that owns it.
AttemptStatus = MessageStatus

MESSAGE_STATUSES: tuple[MessageStatus, ...] = tuple(MessageStatus)

_FINAL = frozenset(
    {
        MessageStatus.DELIVERED,
        MessageStatus.READ,
        MessageStatus.UNDELIVERED,
        MessageStatus.FAILED,
        MessageStatus.CANCELED,
    }
)


def is_final(status: str) -> bool:
    """An attempt in a final status gets no further submit; READ may still follow DELIVERED."""
    return status in _FINAL
