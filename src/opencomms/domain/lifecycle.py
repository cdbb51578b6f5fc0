"""How a Message and its attempts move: the pure state machine behind dispatch and receipts.

A Message takes the status of its latest attempt. It settles when an attempt is DELIVERED
or READ, or when its candidates are exhausted (FAILED/UNDELIVERED), or when the last
attempt's receipt wait runs out while it is SENT. Stats move with every change: one
Message is counted under exactly one status, and `settled` counts Messages with no
further attempt planned (the operation COMPLETES when it equals `total`).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from opencomms.domain.statuses import MessageStatus, is_final

__all__ = [
    "AttemptOutcome",
    "MessageView",
    "StatDeltas",
    "message_after_outcome",
    "steps_to",
]

S = MessageStatus

# The path of an attempt that gets through; a report further along it fills in the
# statuses it skipped (a DELIVERED receipt before the submit's answer, a READ before
# DELIVERED), so that every attempt's events come complete and in order.
_DELIVERY_PATH = (S.QUEUED, S.SENT, S.DELIVERED, S.READ)
_AFTER_SENT = {S.DELIVERED: (S.SENT, S.DELIVERED), S.UNDELIVERED: (S.SENT, S.UNDELIVERED)}


def steps_to(current: str, reported: str) -> list[str]:
    """The statuses an attempt in `current` goes through for a `reported` status: empty
    for a duplicate, a stale report (SENT after DELIVERED) or a second final status."""
    if reported == current or (is_final(current) and current != S.DELIVERED):
        return []
    if reported == S.READ:
        position = _DELIVERY_PATH.index(S(current)) if current in _DELIVERY_PATH else -1
        return list(_DELIVERY_PATH[position + 1 :]) if position >= 0 else []
    if current == S.DELIVERED:
        return []
    if reported in _AFTER_SENT:
        path = _AFTER_SENT[S(reported)]
        return list(path) if current == S.QUEUED else list(path[1:])
    if reported == S.SENT:
        return [S.SENT] if current == S.QUEUED else []
    if reported == S.FAILED:
        return [S.FAILED]
    return []


@dataclass(frozen=True)
class MessageView:
    """What the state machine needs to know of a Message."""

    id: str
    operation_id: str
    status: str
    settled: bool
    next_candidate: int
    candidate_count: int

    @property
    def has_next(self) -> bool:
        return self.next_candidate < self.candidate_count


@dataclass(frozen=True)
class AttemptOutcome:
    """The Message's new state after its current attempt reached `attempt_status`."""

    status: str
    settled: bool
    # None: not due; 0: due now (the next candidate); >0: due after this many ms
    due_in_ms: int | None
    error: tuple[int, str] | None = None


def message_after_outcome(
    message: MessageView,
    attempt_status: str,
    *,
    wait_ms: int,
    error: tuple[int, str] | None = None,
) -> AttemptOutcome:
    """The Message after its current attempt became `attempt_status`.

    `wait_ms` is how long a SENT attempt waits for its receipt: the sender's fallback
    timeout when another candidate remains, else its receipt wait.
    """
    if attempt_status == S.SENT:
        return AttemptOutcome(S.SENT, message.settled, wait_ms)
    if attempt_status in (S.DELIVERED, S.READ):
        return AttemptOutcome(attempt_status, True, None)
    if attempt_status in (S.UNDELIVERED, S.FAILED):
        if message.has_next and not message.settled:
            return AttemptOutcome(S.QUEUED, False, 0)
        return AttemptOutcome(attempt_status, True, None, error)
    return AttemptOutcome(attempt_status, message.settled, None)


@dataclass
class StatDeltas:
    """Changes to the operations' counters, gathered over a batch and applied at once."""

    by_operation: dict[str, Counter[str]] = field(default_factory=dict)

    def add(self, operation_id: str, column: str, amount: int = 1) -> None:
        self.by_operation.setdefault(operation_id, Counter())[column] += amount

    def move(self, operation_id: str, old: str | None, new: str) -> None:
        """One Message leaves bucket `old` (None: it is new) for bucket `new`."""
        if old == new:
            return
        if old is not None:
            self.add(operation_id, old.lower(), -1)
        self.add(operation_id, new.lower())

    def settle(self, operation_id: str, was: bool, now: bool) -> None:
        if was != now:
            self.add(operation_id, "settled", 1 if now else -1)
