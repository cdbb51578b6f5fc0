"""A batch of attempt outcomes applied to working copies of the rows they touch.

Submit results, receipts and timeouts all end here: each moves an attempt (never
backwards), then its Message if it is the Message's current attempt, then the stats.
`save` writes every touched row back with one executemany per table.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

from msgspec.structs import replace

from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.lifecycle import (
    MessageView,
    StatDeltas,
    message_after_outcome,
    steps_to,
)
from opencomms.domain.message_state import AttemptAndMessage, MessageState
from opencomms.domain.statuses import MessageStatus
from opencomms.metrics.instruments import attempt_status
from opencomms.store import dispatch_state, events, operations
from opencomms.store.database import Conn
from opencomms.store.events import EventRow, attempt_event
from opencomms.store.records import SenderRecord

__all__ = ["OutcomeBatch"]

S = MessageStatus


def view(message: MessageState) -> MessageView:
    return MessageView(
        id=message.id,
        operation_id=message.operation_id,
        status=message.status,
        settled=message.settled,
        next_candidate=message.next_candidate,
        candidate_count=message.candidate_count,
    )


class OutcomeBatch:
    def __init__(self, now: int, senders: Mapping[str, SenderRecord]) -> None:
        self.now = now
        self.senders = senders
        self.attempts: dict[str, AttemptState] = {}
        self.messages: dict[str, MessageState] = {}
        self.new_attempts: list[AttemptState] = []
        self.deltas = StatDeltas()
        self.events: list[EventRow] = []
        self._changed_attempts: set[str] = set()
        self._changed_messages: set[str] = set()

    def track(self, pairs: Iterable[AttemptAndMessage]) -> None:
        for pair in pairs:
            self.attempts.setdefault(pair.attempt.id, pair.attempt)
            self.messages.setdefault(pair.message.id, pair.message)

    def update_attempt(self, attempt: AttemptState) -> None:
        old = self.attempts.get(attempt.id)
        if old is not None and old.status != attempt.status:
            self._event(attempt)
        self.attempts[attempt.id] = attempt
        self._changed_attempts.add(attempt.id)

    def _event(self, attempt: AttemptState) -> None:
        """Every status change of every attempt is an event, in the same transaction."""
        self.events.append(
            attempt_event(
                attempt.account_sid,
                attempt.operation_id,
                attempt.message_id,
                attempt.id,
                attempt.status,
                (attempt.error_code, attempt.error_message),
                self.now,
            )
        )

    def update_message(self, message: MessageState) -> None:
        old = self.messages[message.id]
        self.deltas.move(message.operation_id, old.status, message.status)
        self.deltas.settle(message.operation_id, old.settled, message.settled)
        self.messages[message.id] = message
        self._changed_messages.add(message.id)

    def add_attempt(self, attempt: AttemptState) -> None:
        self._event(attempt)
        self.attempts[attempt.id] = attempt
        self.new_attempts.append(attempt)
        self.deltas.add(attempt.operation_id, "attempts")

    def wait_ms(self, message: MessageState, attempt: AttemptState) -> int:
        """How long a SENT attempt waits for its receipt before the Message moves on."""
        sender = self.senders.get(attempt.sender_id)
        if sender is None:
            return 0
        has_next = message.next_candidate < message.candidate_count
        return sender.fallback_timeout_ms if has_next else sender.receipt_wait_ms

    def reach(
        self,
        attempt_id: str,
        status: str,
        *,
        error: tuple[int, str] | None = None,
        provider_message_id: str | None = None,
    ) -> None:
        """Attempt `attempt_id` reported `status` (from a submit answer or a receipt)."""
        attempt = self.attempts[attempt_id]
        self.update_attempt(
            replace(
                attempt,
                in_flight=False,
                submitted_at=self.now if attempt.submitted_at is None else attempt.submitted_at,
                provider_message_id=provider_message_id or attempt.provider_message_id,
                updated_at=self.now,
            )
        )
        for step in steps_to(attempt.status, status):
            final = step == status
            self._step(attempt_id, step, error if final else None)

    def _step(self, attempt_id: str, status: str, error: tuple[int, str] | None) -> None:
        """One status change of an attempt, then of its Message if it is the current one."""
        attempt = replace(self.attempts[attempt_id], status=status)
        attempt_status(attempt.connector, attempt.channel, status, self._waited(attempt))
        if error is not None:
            attempt = replace(attempt, error_code=error[0], error_message=error[1])
        self.update_attempt(attempt)
        message = self.messages[attempt.message_id]
        if message.current_attempt_id == attempt_id and message.status != S.CANCELED:
            self._move_message(message, attempt, status, error)

    def _waited(self, attempt: AttemptState) -> int | None:
        submitted = attempt.submitted_at
        return None if submitted is None else self.now - submitted

    def _move_message(
        self,
        message: MessageState,
        attempt: AttemptState,
        status: str,
        error: tuple[int, str] | None,
    ) -> None:
        outcome = message_after_outcome(
            view(message), status, wait_ms=self.wait_ms(message, attempt), error=error
        )
        due_at = None if outcome.due_in_ms is None else self.now + outcome.due_in_ms
        code, text = outcome.error if outcome.error else (message.error_code, message.error_message)
        self.update_message(
            replace(
                message,
                status=outcome.status,
                settled=outcome.settled,
                due_at=due_at,
                error_code=code,
                error_message=text,
            )
        )

    async def save(self, conn: Conn) -> list[str]:
        """Write every change; the ids of the operations this batch COMPLETED."""
        await dispatch_state.insert_attempts(conn, [self.attempts[a.id] for a in self.new_attempts])
        new_ids = {attempt.id for attempt in self.new_attempts}
        await dispatch_state.save_attempts(
            conn, [self.attempts[i] for i in self._changed_attempts if i not in new_ids]
        )
        await dispatch_state.save_messages(
            conn, [self.messages[i] for i in self._changed_messages], self.now
        )
        await operations.apply_stat_deltas(conn, self.deltas, self.now)
        await events.insert_events(conn, self.events)
        return await operations.complete_settled(conn, list(self.deltas.by_operation), self.now)
