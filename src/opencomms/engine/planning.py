"""What to do with a Message whose time has come: the claim side of dispatch.

A due Message is one of: new or scheduled (make its first attempt), SENT past its wait
(fall back to the next candidate, or settle as SENT), throttled (submit the same attempt
again), or found in flight after a restart (ask the connector before anything else).

Each submission says how long its provider may go on trying to deliver it (RBM's ttl):
the sender's fallback timeout when another candidate follows, else 0 (the provider's own
limit). A SENT attempt the fallback moves on from is handed back as well (`revoke`), so
that a connector whose provider keeps trying (RBM) takes it back.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from msgspec.structs import replace

from opencomms.connectors.base import Submission
from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.candidates import Candidate
from opencomms.domain.errors import NO_CANDIDATE, UNSUBSCRIBED
from opencomms.domain.ids import new_attempt_id
from opencomms.domain.message_state import DueMessage, MessageState
from opencomms.domain.opt_outs import opted_out_of
from opencomms.domain.statuses import MessageStatus
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.store.events import message_event
from opencomms.store.records import SenderRecord

__all__ = ["Claimed", "OptedOut", "content_for_channel", "plan_due"]

OptedOut = Mapping[tuple[str, str], str | None]

S = MessageStatus


@dataclass
class Claimed:
    """The work a claim hands to the connectors, by connector name."""

    submit: dict[str, list[Submission]] = field(default_factory=dict)
    recover: dict[str, list[Submission]] = field(default_factory=dict)
    completed: list[str] = field(default_factory=list)
    scheduled_started: list[str] = field(default_factory=list)
    # SENT attempts the fallback moved on from, undelivered: to take back where possible
    revoke: dict[str, list[Submission]] = field(default_factory=dict)
    # the `due_at` every Message handed out by this claim holds until its answer
    lease_until: int = 0

    def __bool__(self) -> bool:
        return bool(self.submit or self.recover)

    def held_message_ids(self) -> list[str]:
        """The Messages whose attempts this claim hands to connectors (their leases)."""
        groups = (*self.recover.values(), *self.submit.values())
        return sorted({s.message_id for group in groups for s in group})


def content_for_channel(content: dict[str, Any], channel: str) -> dict[str, Any]:
    """The content an attempt on `channel` carries: its module, else the shared text and
    media (docs/channel-content.md)."""
    modules = content.get("modules")
    if isinstance(modules, dict):
        module = modules.get(channel.lower())
        if isinstance(module, dict):
            return module
        shared = {"text": content.get("text", "")}
        if content.get("media"):
            shared["media"] = content["media"]
        return shared
    return content


def _valid_for_ms(sender: SenderRecord | None, message: MessageState) -> int:
    """How long the provider may try to deliver the Message's current attempt: as long
    as the fallback waits for it when another candidate follows (the same rule as
    OutcomeBatch.wait_ms), else 0 (the provider's own limit)."""
    follows = message.next_candidate < message.candidate_count
    return sender.fallback_timeout_ms if sender is not None and follows else 0


def _submission(due: DueMessage, attempt: AttemptState, valid_for_ms: int) -> Submission:
    return Submission(
        attempt_id=attempt.id,
        message_id=attempt.message_id,
        operation_id=attempt.operation_id,
        account_sid=due.account_sid,
        channel=attempt.channel,
        from_address=attempt.from_address,
        to_address=attempt.to_address,
        content=content_for_channel(due.content, attempt.channel),
        valid_for_ms=valid_for_ms,
    )


def _next_sender(
    due: DueMessage, senders: Mapping[str, SenderRecord], opted_out: OptedOut
) -> tuple[int, Candidate, SenderRecord] | bool:
    """The first usable candidate from the Message's `next_candidate` on; else whether
    a candidate was passed over because the recipient opted out of its channel."""
    passed_over = False
    for index in range(due.state.next_candidate, len(due.candidates)):
        candidate = due.candidates[index]
        sender = senders.get(candidate.sender_id)
        if sender is None or sender.status != "ACTIVATED":
            continue
        if opted_out_of(opted_out, (due.account_sid, candidate.address), sender.channel):
            passed_over = True
            continue
        return index, candidate, sender
    return passed_over


def _new_attempt(
    batch: OutcomeBatch,
    due: DueMessage,
    senders: Mapping[str, SenderRecord],
    lease_until: int,
    claimed: Claimed,
    opted_out: OptedOut,
) -> bool:
    """Make the Message's next attempt; False when no usable candidate is left."""
    message = due.state
    found = _next_sender(due, senders, opted_out)
    if isinstance(found, bool):
        _exhausted(batch, due, unsubscribed=found)
        return False
    index, candidate, sender = found
    attempt = _attempt(batch, due, candidate, sender)
    batch.add_attempt(attempt)
    planned = replace(
        message,
        status=S.QUEUED,
        attempt_count=attempt.number,
        next_candidate=index + 1,
        current_attempt_id=attempt.id,
        channel=sender.channel,
        sender=_from(sender, message.sender),
        due_at=lease_until,
    )
    batch.update_message(planned)
    submission = _submission(due, attempt, _valid_for_ms(sender, planned))
    claimed.submit.setdefault(sender.connector, []).append(submission)
    return True


def _from(sender: SenderRecord, planned: dict[str, str] | None) -> dict[str, str]:
    """The Message's `from` for an attempt through `sender`; the pool the send named
    (kept in the planned `from` since fan-out) stays."""
    chosen = {"address": sender.address, "channel": sender.channel, "senderId": sender.id}
    pool = (planned or {}).get("senderPoolId")
    return chosen if pool is None else {**chosen, "senderPoolId": pool}


def _attempt(
    batch: OutcomeBatch, due: DueMessage, candidate: Candidate, sender: SenderRecord
) -> AttemptState:
    """The Message's next attempt, to `candidate` through `sender`: QUEUED, in flight."""
    message = due.state
    return AttemptState(
        id=new_attempt_id(media=bool(due.content.get("media"))),
        message_id=message.id,
        operation_id=message.operation_id,
        account_sid=due.account_sid,
        number=message.attempt_count + 1,
        sender_id=sender.id,
        connector=sender.connector,
        channel=sender.channel,
        from_address=sender.address,
        to_address=candidate.address,
        to_channel=candidate.channel,
        status=S.QUEUED,
        in_flight=True,
        submitted_at=None,
        provider_message_id=None,
        error_code=None,
        error_message=None,
        attempted_at=batch.now,
        updated_at=batch.now,
    )


def _exhausted(batch: OutcomeBatch, due: DueMessage, *, unsubscribed: bool) -> None:
    """No usable candidate is left: the Message settles as its last attempt ended (or,
    with none, FAILED: opted out, or no sender left)."""
    message, current = due.state, due.current
    if current is not None and current.status != S.QUEUED:
        status = current.status
        error = (current.error_code, current.error_message)
    else:
        reason = UNSUBSCRIBED if unsubscribed else NO_CANDIDATE
        status, error = S.FAILED, (reason.code, reason.message)
        # no attempt reports this change: the Message's own event says it
        batch.events.append(
            message_event(
                due.account_sid, message.operation_id, message.id, None, status, batch.now
            )
        )
    batch.update_message(
        replace(
            message,
            status=status,
            settled=True,
            due_at=None,
            error_code=error[0],
            error_message=error[1],
        )
    )


def plan_due(
    batch: OutcomeBatch,
    due_messages: list[DueMessage],
    senders: Mapping[str, SenderRecord],
    lease_until: int,
    opted_out: OptedOut | None = None,
) -> Claimed:
    """Decide, for each claimed Message, its next step; record it in `batch`. Every
    Message is changed, if only its `due_at`: the claim's lease (`lease_until`) for
    those handed to a connector, none for those that settle.
    `opted_out`: (account, address) on the suppression list -> its channel (None: all);
    checked again here, for a STOP that came after the fan-out (a scheduled send)."""
    opted_out = opted_out or {}
    claimed = Claimed(lease_until=lease_until)
    for due in due_messages:
        message, current = due.state, due.current
        batch.messages[message.id] = message
        if current is not None:
            batch.attempts[current.id] = current
        if message.status == S.CANCELED or message.settled:
            batch.update_message(replace(message, due_at=None))
        elif current is not None and current.in_flight:
            submission = _submission(
                due, current, _valid_for_ms(senders.get(current.sender_id), message)
            )
            claimed.recover.setdefault(current.connector, []).append(submission)
            batch.update_message(replace(message, due_at=lease_until))
        elif current is not None and current.status == S.QUEUED and current.submitted_at is None:
            _submit_again(batch, due, current, senders, lease_until, claimed)
        elif message.status == S.SENT and message.next_candidate >= message.candidate_count:
            _settle_sent(batch, message)
        elif message.status in (S.SENT, S.QUEUED, S.SCHEDULED):
            _move_on(batch, due, senders, lease_until, claimed, opted_out)
        else:
            batch.update_message(replace(message, due_at=None))
    return claimed


def _submit_again(
    batch: OutcomeBatch,
    due: DueMessage,
    current: AttemptState,
    senders: Mapping[str, SenderRecord],
    lease_until: int,
    claimed: Claimed,
) -> None:
    """A throttled attempt: the same attempt goes to its connector again."""
    message = due.state
    batch.update_attempt(replace(current, in_flight=True, updated_at=batch.now))
    batch.update_message(replace(message, due_at=lease_until))
    valid_for_ms = _valid_for_ms(senders.get(current.sender_id), message)
    claimed.submit.setdefault(current.connector, []).append(_submission(due, current, valid_for_ms))


def _move_on(
    batch: OutcomeBatch,
    due: DueMessage,
    senders: Mapping[str, SenderRecord],
    lease_until: int,
    claimed: Claimed,
    opted_out: OptedOut,
) -> None:
    """The Message's next attempt: its first, or the fallback's after a FAILED attempt or
    a SENT one whose fallback timeout ran out (that one is then to be revoked)."""
    message, current = due.state, due.current
    if message.status == S.SCHEDULED:
        claimed.scheduled_started.append(message.operation_id)
    made = _new_attempt(batch, due, senders, lease_until, claimed, opted_out)
    if made and current is not None and current.status == S.SENT:
        abandoned = _submission(due, current, 0)
        claimed.revoke.setdefault(current.connector, []).append(abandoned)


def _settle_sent(batch: OutcomeBatch, message: MessageState) -> None:
    """The last attempt's receipt wait ran out: no further attempt is planned."""
    batch.update_message(replace(message, settled=True, due_at=None))
