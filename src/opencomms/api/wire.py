"""Records to the wire shapes of the contract (camelCase fields, UPPERCASE enums)."""

from __future__ import annotations

from typing import Any

from opencomms.api.errors import MORE_INFO
from opencomms.domain.clock import iso
from opencomms.domain.durations import format_duration
from opencomms.store.records import (
    STAT_COLUMNS,
    ApiKeyRecord,
    AttemptRecord,
    MessageRecord,
    OperationRecord,
    SenderPoolRecord,
    SenderRecord,
)

__all__ = [
    "api_key_json",
    "attempt_json",
    "error_json",
    "message_json",
    "operation_json",
    "operation_path",
    "pool_json",
    "sender_json",
]


def operation_path(prefix: str, operation_id: str) -> str:
    return f"{prefix}/Messages/Operations/{operation_id}"


def operation_json(operation: OperationRecord) -> dict[str, Any]:
    return {
        "id": operation.id,
        "status": operation.status,
        "stats": {column: operation.stats[column] for column in STAT_COLUMNS},
        "createdAt": iso(operation.created_at),
        "updatedAt": iso(operation.updated_at),
    }


def error_json(code: int, message: str | None) -> dict[str, Any]:
    """An error inside a resource, as the Comms API gives it (`infoUrl`, camelCase)."""
    return {"code": code, "message": message or "", "infoUrl": MORE_INFO.format(code=code)}


def _error(code: int | None, message: str | None) -> dict[str, Any] | None:
    return None if code is None else error_json(code, message)


def message_json(message: MessageRecord, prefix: str = "/v1") -> dict[str, Any]:
    return {
        "id": message.id,
        "from": message.sender,
        "to": [{**address, "contactId": None} for address in message.recipient],
        "status": message.status,
        "related": [
            {
                "name": "operation",
                "id": message.operation_id,
                "uri": operation_path(prefix, message.operation_id),
            }
        ],
        "tags": message.tags,
        "scheduledFor": iso(message.scheduled_for),
        "createdAt": iso(message.created_at),
        "updatedAt": iso(message.updated_at),
        "deletedAt": None,
        "segments": message.segments,
        "encoding": message.encoding,
        "error": _error(message.error_code, message.error_message),
    }


def attempt_json(attempt: AttemptRecord, message: MessageRecord) -> dict[str, Any]:
    """One attempt of `message`; an SMS attempt also shows its encoding and segments."""
    body: dict[str, Any] = {
        "id": attempt.id,
        "attempt": attempt.number,
        "from": {
            "address": attempt.from_address,
            "channel": attempt.channel,
            "senderId": attempt.sender_id,
        },
        "to": [{"address": attempt.to_address, "channel": attempt.to_channel}],
        "status": attempt.status,
        "attemptedAt": iso(attempt.attempted_at),
        "updatedAt": iso(attempt.updated_at),
    }
    if attempt.channel == "SMS" and message.segments is not None:
        body["segments"], body["encoding"] = message.segments, message.encoding
    error = _error(attempt.error_code, attempt.error_message)
    if error is not None:
        body["error"] = error
    return body


def sender_json(sender: SenderRecord) -> dict[str, Any]:
    return {
        "id": sender.id,
        "displayName": sender.display_name,
        "address": sender.address,
        "channel": sender.channel,
        "connector": sender.connector,
        "status": sender.status,
        "fallbackTimeout": format_duration(sender.fallback_timeout_ms),
        "receiptWait": format_duration(sender.receipt_wait_ms),
        "tags": sender.tags,
        "createdAt": iso(sender.created_at),
        "updatedAt": iso(sender.updated_at),
    }


def pool_json(pool: SenderPoolRecord) -> dict[str, Any]:
    return {
        "id": pool.id,
        "name": pool.name,
        "senders": pool.sender_ids,
        "default": pool.is_default,
        "tags": pool.tags,
        "createdAt": iso(pool.created_at),
        "updatedAt": iso(pool.updated_at),
    }


def api_key_json(key: ApiKeyRecord, secret: str | None = None) -> dict[str, Any]:
    body: dict[str, Any] = {
        "sid": key.sid,
        "friendlyName": key.friendly_name,
        "accountSid": key.account_sid,
        "createdAt": iso(key.created_at),
    }
    if secret is not None:
        body["secret"] = secret
    return body
