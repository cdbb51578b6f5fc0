"""Planning a claim: what each due Message does next. A new one makes its first attempt
on its first usable candidate; a failed or timed-out one falls back to the next, in
order; with none left it settles; a throttled attempt is submitted again; one found in
flight after a restart is recovered, never resubmitted blindly."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from opencomms.connectors.base import SubmitOutcome, SubmitResult
from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.errors import NO_CANDIDATE, UNSUBSCRIBED
from opencomms.domain.message_state import DueMessage, MessageState
from opencomms.engine.dispatcher import apply_answer
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.engine.planning import Claimed, OptedOut, content_for_channel, plan_due
from tests.engine.states import (
    NOW,
    TO,
    attempt,
    due,
    event_statuses,
    message,
    sender,
    stat_changes,
)

LEASE_UNTIL = NOW + 300_000
REJECTED = SubmitOutcome.REJECTED
SMS = sender("SN1")
RCS = sender("SN2", channel="RCS", connector="rbm", address="brand_agent")
SENDERS = {SMS.id: SMS, RCS.id: RCS}


def new_message(**changes: Any) -> MessageState:
    """A Message fan-out just made: no attempt yet, two candidates."""
    fields: dict[str, Any] = {
        "attempt_count": 0,
        "next_candidate": 0,
        "current_attempt_id": None,
        "channel": None,
        "sender": None,
    }
    return message(**{**fields, **changes})


def plan(
    *due_messages: DueMessage,
    senders: dict[str, Any] | None = None,
    opted_out: OptedOut | None = None,
) -> tuple[OutcomeBatch, Claimed]:
    known = SENDERS if senders is None else senders
    batch = OutcomeBatch(NOW, known)
    claimed = plan_due(batch, list(due_messages), known, LEASE_UNTIL, opted_out)
    return batch, claimed


def test_a_new_message_makes_its_first_attempt_on_its_first_candidate() -> None:
    batch, claimed = plan(due(new_message()))

    [made] = batch.new_attempts
    assert (made.number, made.sender_id, made.connector, made.channel) == (1, "SN1", "lab", "SMS")
    assert (made.from_address, made.to_address, made.to_channel) == (SMS.address, TO, "PHONE")
    assert (made.status, made.in_flight, made.submitted_at) == ("QUEUED", True, None)
    queued = batch.messages["MM1"]
    assert (queued.status, queued.attempt_count, queued.next_candidate) == ("QUEUED", 1, 1)
    assert queued.current_attempt_id == made.id
    assert queued.sender == {"address": SMS.address, "channel": "SMS", "senderId": "SN1"}
    assert queued.due_at == LEASE_UNTIL  # leased while the connector has it
    [submission] = claimed.submit["lab"]
    assert (submission.attempt_id, submission.content) == (made.id, {"text": "Hello"})
    assert event_statuses(batch) == ["QUEUED"]
    assert stat_changes(batch) == {"attempts": 1}


def test_a_message_with_media_gets_an_mm_attempt_id() -> None:
    batch, _ = plan(due(new_message(), content={"text": "Look", "media": ["https://x/y.png"]}))
    assert batch.new_attempts[0].id.startswith("MM")


def test_a_failed_attempt_falls_back_to_the_next_candidate() -> None:
    failed = attempt(status="FAILED", in_flight=False, error_code=30008, error_message="No")
    batch, claimed = plan(due(message(status="QUEUED"), failed))

    [made] = batch.new_attempts
    assert (made.number, made.sender_id, made.channel, made.from_address) == (
        2, "SN2", "RCS", "brand_agent",
    )  # fmt: skip
    assert batch.messages["MM1"].next_candidate == 2
    assert batch.messages["MM1"].channel == "RCS"
    assert [s.attempt_id for s in claimed.submit["rbm"]] == [made.id]
    assert "lab" not in claimed.submit


def test_a_sent_message_past_its_fallback_timeout_falls_back_too() -> None:
    sent = attempt(status="SENT", in_flight=False, submitted_at=NOW - 60_000)
    batch, _ = plan(due(message(status="SENT"), sent))

    assert [a.sender_id for a in batch.new_attempts] == ["SN2"]
    assert batch.messages["MM1"].status == "QUEUED"
    assert stat_changes(batch) == {"sent": -1, "queued": 1, "attempts": 1}


def test_a_sent_message_on_its_last_candidate_settles_as_sent_when_the_wait_runs_out() -> None:
    sent = attempt(status="SENT", in_flight=False, submitted_at=NOW - 60_000)
    batch, claimed = plan(due(message(status="SENT", next_candidate=2), sent))

    settled = batch.messages["MM1"]
    assert (settled.status, settled.settled, settled.due_at) == ("SENT", True, None)
    assert batch.new_attempts == []
    assert not claimed
    assert stat_changes(batch) == {"settled": 1}


def test_candidates_whose_sender_is_gone_or_not_activated_are_passed_over() -> None:
    third = ((TO, "PHONE", "SN9"), (TO, "PHONE", "SN3"), (TO, "PHONE", "SN2"))
    paused = sender("SN3", status="DEACTIVATED")

    batch, _ = plan(due(new_message(), candidates=third), senders={**SENDERS, "SN3": paused})

    assert [a.sender_id for a in batch.new_attempts] == ["SN2"]
    assert batch.messages["MM1"].next_candidate == 3


def test_a_recipient_who_opted_out_of_a_channel_is_reached_on_another() -> None:
    batch, _ = plan(due(new_message()), opted_out={("AC1", TO): "SMS"})

    assert [a.channel for a in batch.new_attempts] == ["RCS"]


def test_a_recipient_who_opted_out_of_everything_fails_unsubscribed() -> None:
    batch, claimed = plan(due(new_message()), opted_out={("AC1", TO): None})

    failed = batch.messages["MM1"]
    assert (failed.status, failed.settled, failed.due_at) == ("FAILED", True, None)
    assert (failed.error_code, failed.error_message) == UNSUBSCRIBED
    assert batch.new_attempts == []
    assert not claimed
    assert event_statuses(batch) == ["FAILED"]  # the Message's own event: no attempt says it


def test_an_opt_out_on_another_account_does_not_count() -> None:
    batch, _ = plan(due(new_message()), opted_out={("AC2", TO): None})
    assert [a.channel for a in batch.new_attempts] == ["SMS"]


def test_a_message_no_sender_can_send_any_more_fails_with_no_candidate() -> None:
    batch, _ = plan(due(new_message()), senders={})

    failed = batch.messages["MM1"]
    assert (failed.status, failed.settled) == ("FAILED", True)
    assert (failed.error_code, failed.error_message) == NO_CANDIDATE


def test_with_no_candidate_left_a_message_ends_as_its_last_attempt_did() -> None:
    undelivered = attempt(
        status="UNDELIVERED", in_flight=False, error_code=30003, error_message="Unreachable"
    )
    batch, _ = plan(due(message(status="QUEUED"), undelivered), senders={"SN1": SMS})

    ended = batch.messages["MM1"]
    assert (ended.status, ended.settled, ended.due_at) == ("UNDELIVERED", True, None)
    assert (ended.error_code, ended.error_message) == (30003, "Unreachable")
    assert batch.events == []  # the attempt already reported it


def test_a_throttled_attempt_is_submitted_again_as_the_same_attempt() -> None:
    throttled = attempt(in_flight=False)
    batch, claimed = plan(due(message(status="QUEUED"), throttled))

    assert batch.new_attempts == []
    assert batch.attempts["SM1"].in_flight
    assert batch.messages["MM1"].due_at == LEASE_UNTIL
    assert [s.attempt_id for s in claimed.submit["lab"]] == ["SM1"]
    assert claimed.recover == {}


def test_an_attempt_found_in_flight_after_a_restart_is_recovered_not_resubmitted() -> None:
    batch, claimed = plan(due(message(status="QUEUED"), attempt(in_flight=True)))

    assert [s.attempt_id for s in claimed.recover["lab"]] == ["SM1"]
    assert claimed.submit == {}
    assert batch.new_attempts == []
    assert stat_changes(batch) == {}


def test_a_canceled_message_is_taken_off_the_queue() -> None:
    canceled = message(status="CANCELED", settled=True)
    batch, claimed = plan(due(canceled, attempt(status="SENT", in_flight=False)))

    assert batch.messages["MM1"].due_at is None
    assert batch.messages["MM1"].status == "CANCELED"
    assert not claimed


def test_a_settled_message_found_due_is_taken_off_the_queue() -> None:
    done = message(status="DELIVERED", settled=True)
    batch, claimed = plan(due(done, attempt(status="DELIVERED", in_flight=False)))

    assert batch.messages["MM1"].due_at is None
    assert batch.new_attempts == []
    assert not claimed


def test_a_scheduled_message_starts_its_operation_with_its_first_attempt() -> None:
    batch, claimed = plan(due(new_message(status="SCHEDULED")))

    assert claimed.scheduled_started == ["OP1"]
    assert batch.messages["MM1"].status == "QUEUED"
    assert stat_changes(batch) == {"scheduled": -1, "queued": 1, "attempts": 1}


def test_submissions_are_grouped_by_connector() -> None:
    messages = [due(new_message(id=f"MM{n}")) for n in range(3)]
    rcs_only = due(new_message(id="MM9"), candidates=((TO, "PHONE", "SN2"),))

    _, claimed = plan(*messages, rcs_only)

    assert sorted(claimed.submit) == ["lab", "rbm"]
    assert [s.message_id for s in claimed.submit["lab"]] == ["MM0", "MM1", "MM2"]
    assert [s.message_id for s in claimed.submit["rbm"]] == ["MM9"]


CONTENT = {"text": "Hi", "modules": {"rcs": {"text": "Hi", "richCard": {"title": "T"}}}}


def test_an_attempt_carries_its_channels_module() -> None:
    assert content_for_channel(CONTENT, "RCS") == {"text": "Hi", "richCard": {"title": "T"}}


def test_an_attempt_on_a_channel_without_a_module_carries_the_shared_text() -> None:
    assert content_for_channel(CONTENT, "SMS") == {"text": "Hi"}


def test_an_attempt_on_a_channel_without_a_module_carries_the_shared_media() -> None:
    media = [{"url": "https://example.com/a.png"}]
    content = {"text": "Hi", "media": media, "modules": {"rcs": {"text": "Hi"}}}
    assert content_for_channel(content, "SMS") == {"text": "Hi", "media": media}


def test_content_without_modules_goes_as_it_is() -> None:
    content = {"text": "Hi", "media": ["https://x/y.png"]}
    assert content_for_channel(content, "SMS") == content


SENDER_STATES = st.sampled_from(["ACTIVATED", "DEACTIVATED", "gone", "opted out"])


@given(st.lists(SENDER_STATES, min_size=1, max_size=6))
def test_a_message_refused_everywhere_tries_each_usable_candidate_once_in_order(
    states: list[str],
) -> None:
    """Whatever its candidates' senders are (activated, paused, deleted, or on a channel
    the recipient opted out of), a Message every provider refuses is tried on each
    usable candidate once, in candidate order, then FAILED with the last refusal (or,
    with no usable candidate, unsubscribed if one was opted out, else no candidate)."""
    senders = {
        f"SN{n}": sender(
            f"SN{n}",
            channel=f"CH{n}",
            status="DEACTIVATED" if state == "DEACTIVATED" else "ACTIVATED",
        )
        for n, state in enumerate(states)
        if state != "gone"
    }
    # one address per candidate, so that each opt-out bars one candidate
    opted_out: OptedOut = {
        ("AC1", f"+1415555{n:04d}"): f"CH{n}"
        for n, state in enumerate(states)
        if state == "opted out"
    }
    candidates = tuple((f"+1415555{n:04d}", "PHONE", f"SN{n}") for n in range(len(states)))
    now_state = new_message(candidate_count=len(states))
    current: AttemptState | None = None
    tried: list[int] = []
    while True:  # a claim, the provider's refusal, the next claim...
        batch = OutcomeBatch(NOW, senders)
        claimed = plan_due(
            batch, [due(now_state, current, candidates=candidates)], senders, LEASE_UNTIL, opted_out
        )
        if not claimed or len(tried) > len(states):
            break
        [submission] = claimed.submit["lab"]
        current = batch.attempts[submission.attempt_id]
        tried.append(int(current.sender_id[2:]))
        refusal = SubmitResult(current.id, REJECTED, None, 30000 + len(tried), "Refused")
        apply_answer(batch, refusal)
        now_state, current = batch.messages["MM1"], batch.attempts[current.id]
    final = batch.messages["MM1"]

    usable = [n for n, s in enumerate(states) if s == "ACTIVATED"]
    assert tried == usable
    assert (final.status, final.settled, final.due_at) == ("FAILED", True, None)
    if usable:
        assert final.error_code == 30000 + len(usable)
    elif "opted out" in states:
        assert final.error_code == UNSUBSCRIBED.code
    else:
        assert final.error_code == NO_CANDIDATE.code
