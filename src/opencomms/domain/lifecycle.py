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
    "advance_attempt",
    "message_after_outcome",
]

S = MessageStatus

# How far an attempt has come; a change never goes back.
_RANK = {S.QUEUED: 0, S.SENT: 1, S.DELIVERED: 2, S.UNDELIVERED: 2, S.FAILED: 2, S.READ: 3}


def advance_attempt(current: str, reported: str) -> str | None:
    """The attempt's new status after `reported`, or None when it changes nothing
    (a duplicate, a stale SENT after DELIVERED, a conflicting second final status)."""
    if reported == current:
        return None
    if reported == S.READ:
        return S.READ if current in (S.QUEUED, S.SENT, S.DELIVERED) else None
    if is_final(current):
        return None
    return reported if _RANK[S(reported)] > _RANK[S(current)] else None


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
