"""Plain engine state for unit tests of the engine's decisions: a Message, its attempt,
its senders and a batch holding them, each with defaults a test overrides by name."""

from __future__ import annotations

from typing import Any

from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store.dispatch_state import AttemptState, DueMessage, MessageState
from opencomms.store.records import SenderRecord

NOW = 1_700_000_000_000
FALLBACK_MS = 60_000
RECEIPT_WAIT_MS = 3_600_000


def sender(sender_id: str = "SN1", **changes: Any) -> SenderRecord:
    fields: dict[str, Any] = {
        "id": sender_id,
        "account_sid": "AC1",
        "address": "+12065550100",
        "channel": "SMS",
        "connector": "lab",
        "status": "ACTIVATED",
        "tags": {},
        "fallback_timeout_ms": FALLBACK_MS,
        "receipt_wait_ms": RECEIPT_WAIT_MS,
        "created_at": 0,
        "updated_at": 0,
    }
    return SenderRecord(**{**fields, **changes})


def message(**changes: Any) -> MessageState:
    """Message MM1 of operation OP1, QUEUED on its first attempt SM1, one of two candidates."""
    fields: dict[str, Any] = {
        "id": "MM1",
        "operation_id": "OP1",
        "status": "QUEUED",
        "settled": False,
        "attempt_count": 1,
        "next_candidate": 1,
        "candidate_count": 2,
        "current_attempt_id": "SM1",
        "channel": "SMS",
        "sender": {"address": "+12065550100", "channel": "SMS", "senderId": "SN1"},
        "due_at": NOW,
        "error_code": None,
        "error_message": None,
    }
    return MessageState(**{**fields, **changes})


def attempt(**changes: Any) -> AttemptState:
    """Attempt SM1 of Message MM1 through sender SN1 (connector `lab`), in flight."""
    fields: dict[str, Any] = {
        "id": "SM1",
        "message_id": "MM1",
        "operation_id": "OP1",
        "account_sid": "AC1",
        "number": 1,
        "sender_id": "SN1",
        "connector": "lab",
        "channel": "SMS",
        "from_address": "+12065550100",
        "to_address": "+14155550100",
        "to_channel": "PHONE",
        "status": "QUEUED",
        "in_flight": True,
        "submitted_at": None,
        "provider_message_id": None,
        "error_code": None,
        "error_message": None,
        "attempted_at": NOW - 1_000,
        "updated_at": NOW - 1_000,
    }
    return AttemptState(**{**fields, **changes})


TO = "+14155550100"


def due(
    state: MessageState,
    current: AttemptState | None = None,
    *,
    candidates: tuple[tuple[str, str, str], ...] = ((TO, "PHONE", "SN1"), (TO, "PHONE", "SN2")),
    content: dict[str, Any] | None = None,
) -> DueMessage:
    """Message `state` as a claim hands it to planning; `candidates`: (address, address
    channel, sender id), in the order they are tried."""
    return DueMessage(
        state=state,
        account_sid="AC1",
        candidates=[list(candidate) for candidate in candidates],
        content={"text": "Hello"} if content is None else content,
        current=current,
    )


def batch_of(
    *pairs: tuple[AttemptState, MessageState], senders: tuple[SenderRecord, ...] = ()
) -> OutcomeBatch:
    """A batch at NOW tracking these attempts and their Messages (default: one SMS sender)."""
    known = senders or (sender(),)
    batch = OutcomeBatch(NOW, {s.id: s for s in known})
    batch.track(pairs)
    return batch


def stat_changes(batch: OutcomeBatch, operation_id: str = "OP1") -> dict[str, int]:
    """The operation's counter changes in `batch`, without the zeros."""
    counts = batch.deltas.by_operation.get(operation_id, {})
    return {column: amount for column, amount in counts.items() if amount}


def event_statuses(batch: OutcomeBatch) -> list[str]:
    """The status each event of `batch` reports, in order."""
    return [str(event.status) for event in batch.events]
