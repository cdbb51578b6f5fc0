"""Receipts: the attempts they move, applied a batch at a time (one UPDATE … per table).

A receipt names its attempt by our id or by the provider's, and moves it only if the
attempt was made through the connector the receipt came from. A provider id may be one
part's of a long message (the attempt is DELIVERED once every part is, UNDELIVERED or
FAILED as soon as one part is), or not be known yet: a receipt can overtake the answer
to its submit. Such a receipt waits in the database and is applied once the answer is
recorded (`apply_early_receipts`), so it is neither lost nor applied to nothing.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from msgspec.structs import replace

from opencomms.connectors.base import Receipt
from opencomms.domain.clock import now_ms
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store import dispatch_state, parts, senders
from opencomms.store.database import Conn
from opencomms.store.parts import EarlyReceipt, Part

__all__ = [
    "EARLY_RECEIPT_KEEP_MS",
    "OnParts",
    "apply_early_receipts",
    "apply_receipts",
    "reach_attempts",
    "receipt_of",
    "receipts_on_parts",
    "sweep_early_receipts",
]

EARLY_RECEIPT_KEEP_MS = 7 * 24 * 3600 * 1000
"""A receipt whose id no attempt ever carried (another system's) is dropped after this."""

_FAILED = ("UNDELIVERED", "FAILED")
_FINAL = ("DELIVERED", *_FAILED)


async def apply_receipts(conn: Conn, receipts: Sequence[Receipt]) -> list[str]:
    """Move the attempts these receipts are about; the operations this COMPLETED."""
    now = now_ms()
    receipts = await _parts_to_attempts(conn, receipts)
    by_attempt = [r.attempt_id for r in receipts if r.attempt_id]
    by_provider = [
        r.provider_message_id for r in receipts if not r.attempt_id and r.provider_message_id
    ]
    pairs = await dispatch_state.attempts_by_id(conn, sorted(set(by_attempt)))
    provider_pairs = await dispatch_state.attempts_by_provider_id(conn, sorted(set(by_provider)))
    known = await senders.get_senders(
        conn, sorted({a.sender_id for a, _ in pairs + provider_pairs})
    )
    batch = OutcomeBatch(now, known)
    batch.track(pairs + provider_pairs)
    provider_index = {a.provider_message_id: a.id for a, _ in provider_pairs}
    early = reach_attempts(batch, receipts, provider_index)
    await parts.hold_early_receipts(conn, early)
    completed = await batch.save(conn)
    learned_ids = [
        r.provider_message_id for r in receipts if r.attempt_id and r.provider_message_id
    ]
    return completed + await apply_early_receipts(conn, learned_ids)


async def apply_early_receipts(conn: Conn, provider_ids: Sequence[str]) -> list[str]:
    """Apply the receipts that were waiting for these ids (just recorded); the operations
    this COMPLETED."""
    waiting = await parts.take_early_receipts(conn, provider_ids)
    if not waiting:
        return []
    return await apply_receipts(conn, [receipt_of(early) for early in waiting])


def receipt_of(early: EarlyReceipt) -> Receipt:
    """A receipt that waited for its answer, as it is applied once the answer is in."""
    return Receipt(
        early.status, None, early.provider_message_id, early.error_code, early.error_message
    )


async def sweep_early_receipts(conn: Conn) -> list[str]:
    """Apply waiting receipts whose answer was recorded meanwhile (on PostgreSQL a receipt
    and its answer may commit side by side, each not seeing the other), and drop those
    that waited too long; the operations this COMPLETED."""
    await parts.forget_early_receipts(conn, now_ms() - EARLY_RECEIPT_KEEP_MS)
    return await apply_early_receipts(conn, await parts.matched_early_receipt_ids(conn, 1_000))


def reach_attempts(
    batch: OutcomeBatch, receipts: Sequence[Receipt], by_provider_id: Mapping[str | None, str]
) -> list[EarlyReceipt]:
    """Move the attempts in `batch` that these receipts name, by our id or by the
    provider's (`by_provider_id`: provider id -> attempt id); the receipts whose provider
    id no attempt carries yet, to wait for the answer that will carry it."""
    early: list[EarlyReceipt] = []
    for receipt in receipts:
        attempt_id = receipt.attempt_id or by_provider_id.get(receipt.provider_message_id)
        if attempt_id is None and receipt.provider_message_id:
            early.append(_early(receipt, batch.now))
            continue
        if attempt_id is None or attempt_id not in batch.attempts:
            continue  # not ours, or from a database that no longer has it
        if receipt.connector not in (None, batch.attempts[attempt_id].connector):
            continue  # names an attempt made through another connector
        # a receipt naming both ids tells the provider's id (an answer that came late)
        told = receipt.provider_message_id if receipt.attempt_id else None
        batch.reach(attempt_id, receipt.status, error=_error(receipt), provider_message_id=told)
    return early


async def _parts_to_attempts(conn: Conn, receipts: Sequence[Receipt]) -> list[Receipt]:
    """Receipts on parts, replaced by what they mean for their attempts."""
    ids = [r.provider_message_id for r in receipts if not r.attempt_id and r.provider_message_id]
    on_parts = receipts_on_parts(receipts, await parts.parts_of_attempts_with(conn, ids))
    await parts.save_part_statuses(conn, on_parts.changed_parts)
    return on_parts.receipts


@dataclass(frozen=True)
class OnParts:
    """Receipts on parts, read for their attempts."""

    receipts: list[Receipt]  # the others, and one per attempt a part's receipt moves
    changed_parts: list[Part]  # the parts these receipts gave a final status


def receipts_on_parts(receipts: Sequence[Receipt], known_parts: Sequence[Part]) -> OnParts:
    """What receipts on parts mean for their attempts: `known_parts`, every part of the
    attempts that have a part these receipts name. An attempt is UNDELIVERED or FAILED
    as soon as one part is (the first such receipt, with its error), DELIVERED once every
    part is; a part keeps its first final status."""
    siblings = {p.provider_message_id: p for p in known_parts}
    if not siblings:
        return OnParts(list(receipts), [])
    attempt_ids = sorted({part.attempt_id for part in siblings.values()})
    changed: dict[str, Part] = {}
    failures: dict[str, Receipt] = {}
    rest: list[Receipt] = []
    for receipt in receipts:
        part = siblings.get(receipt.provider_message_id or "")
        if part is None or receipt.attempt_id:
            rest.append(receipt)
            continue
        if part.status not in _FINAL and receipt.status in _FINAL:
            siblings[part.provider_message_id] = changed[part.provider_message_id] = part._replace(
                status=receipt.status
            )
        if receipt.status in _FAILED:
            failures.setdefault(part.attempt_id, receipt)
    for attempt_id in attempt_ids:
        statuses = [p.status for p in siblings.values() if p.attempt_id == attempt_id]
        if attempt_id in failures:
            failure = failures[attempt_id]
            rest.append(replace(failure, attempt_id=attempt_id, provider_message_id=None))
        elif statuses and all(status == "DELIVERED" for status in statuses):
            rest.append(Receipt("DELIVERED", attempt_id))
    return OnParts(rest, list(changed.values()))


def _error(receipt: Receipt) -> tuple[int, str] | None:
    if receipt.error_code is None:
        return None
    return receipt.error_code, receipt.error_message or ""


def _early(receipt: Receipt, now: int) -> EarlyReceipt:
    assert receipt.provider_message_id is not None
    return EarlyReceipt(
        receipt.provider_message_id, receipt.status, receipt.error_code,
        receipt.error_message, now,
    )  # fmt: skip
