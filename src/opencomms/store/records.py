"""The rows the store hands out, as typed structs (decoded from the tables)."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = [
    "AccountRecord",
    "ApiKeyRecord",
    "AttemptRecord",
    "MessageRecord",
    "OperationRecord",
    "SenderPoolRecord",
    "SenderRecord",
]


class AccountRecord(msgspec.Struct, frozen=True):
    sid: str
    friendly_name: str
    created_at: int


class ApiKeyRecord(msgspec.Struct, frozen=True):
    sid: str
    account_sid: str
    friendly_name: str
    created_at: int


class SenderRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str
    address: str
    channel: str
    connector: str
    status: str
    tags: dict[str, str]
    fallback_timeout_ms: int
    receipt_wait_ms: int
    created_at: int
    updated_at: int
    display_name: str | None = None


class SenderPoolRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str
    name: str
    tags: dict[str, str]
    is_default: bool
    sender_ids: list[str]
    created_at: int
    updated_at: int


STAT_COLUMNS = (
    "recipients",
    "total",
    "unaddressable",
    "attempts",
    "scheduled",
    "queued",
    "sent",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
)


class OperationRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str
    status: str
    spec: dict[str, Any]
    stats: dict[str, int]
    created_at: int
    updated_at: int


class AttemptRecord(msgspec.Struct, frozen=True):
    id: str
    message_id: str
    number: int
    sender_id: str
    channel: str
    from_address: str
    to_address: str
    to_channel: str
    status: str
    error_code: int | None
    error_message: str | None
    attempted_at: int
    updated_at: int


class MessageRecord(msgspec.Struct, frozen=True):
    id: str
    account_sid: str
    operation_id: str
    status: str
    recipient: list[dict[str, str]]
    content: dict[str, Any]
    tags: dict[str, str]
    channel: str | None
    sender: dict[str, str] | None
    scheduled_for: int | None
    encoding: str | None
    segments: int | None
    error_code: int | None
    error_message: str | None
    created_at: int
    updated_at: int
