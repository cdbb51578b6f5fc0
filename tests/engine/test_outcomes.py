"""An outcome batch: what an attempt's new status does to the attempt, its Message, the
operation's counters and the events, before anything is written."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opencomms.domain.statuses import MessageStatus
from tests.engine.states import (
    FALLBACK_MS,
    NOW,
    RECEIPT_WAIT_MS,
    attempt,
    batch_of,
    event_statuses,
    message,
    sender,
    stat_changes,
)

ERROR = (30005, "Unknown destination handset")


def test_a_sent_attempt_with_a_fallback_left_waits_the_fallback_timeout() -> None:
    batch = batch_of((attempt(), message()))

    batch.reach("SM1", "SENT", provider_message_id="lab:1")

    sent = batch.messages["MM1"]
    assert (sent.status, sent.settled, sent.due_at) == ("SENT", False, NOW + FALLBACK_MS)
    assert batch.attempts["SM1"].provider_message_id == "lab:1"
    assert batch.attempts["SM1"].submitted_at == NOW
    assert not batch.attempts["SM1"].in_flight


def test_a_sent_attempt_on_the_last_candidate_waits_the_receipt_wait() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))

    batch.reach("SM1", "SENT")

    assert batch.messages["MM1"].due_at == NOW + RECEIPT_WAIT_MS


def test_a_sent_attempt_whose_sender_is_gone_does_not_wait() -> None:
    batch = batch_of((attempt(sender_id="SN9"), message()))

    batch.reach("SM1", "SENT")

    assert batch.messages["MM1"].due_at == NOW


def test_a_failed_attempt_with_a_candidate_left_makes_the_message_due_now_for_it() -> None:
    batch = batch_of((attempt(status="SENT", in_flight=False), message(status="SENT")))

    batch.reach("SM1", "UNDELIVERED", error=ERROR)

    moved = batch.messages["MM1"]
    assert (moved.status, moved.settled, moved.due_at) == ("QUEUED", False, NOW)
    assert (moved.error_code, moved.error_message) == (None, None)
    failed = batch.attempts["SM1"]
    assert (failed.status, failed.error_code, failed.error_message) == ("UNDELIVERED", *ERROR)


def test_a_failed_attempt_on_the_last_candidate_fails_the_message_with_its_error() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))

    batch.reach("SM1", "FAILED", error=ERROR)

    failed = batch.messages["MM1"]
    assert (failed.status, failed.settled, failed.due_at) == ("FAILED", True, None)
    assert (failed.error_code, failed.error_message) == ERROR
    assert stat_changes(batch) == {"queued": -1, "failed": 1, "settled": 1}


def test_a_delivered_attempt_settles_its_message_whatever_candidates_are_left() -> None:
    batch = batch_of((attempt(status="SENT", in_flight=False), message(status="SENT")))

    batch.reach("SM1", "DELIVERED")

    delivered = batch.messages["MM1"]
    assert (delivered.status, delivered.settled, delivered.due_at) == ("DELIVERED", True, None)
    assert stat_changes(batch) == {"sent": -1, "delivered": 1, "settled": 1}


def test_a_receipt_before_the_answer_fills_in_sent_then_delivers() -> None:
    batch = batch_of((attempt(), message()))

    batch.reach("SM1", "DELIVERED")

    assert event_statuses(batch) == ["SENT", "DELIVERED"]
    assert batch.attempts["SM1"].submitted_at == NOW
    assert batch.messages["MM1"].status == "DELIVERED"
    assert stat_changes(batch) == {"queued": -1, "delivered": 1, "settled": 1}


def test_a_duplicate_report_changes_nothing_it_reports() -> None:
    batch = batch_of((attempt(status="DELIVERED", in_flight=False), message(status="DELIVERED")))

    batch.reach("SM1", "DELIVERED")

    assert event_statuses(batch) == []
    assert stat_changes(batch) == {}


def test_a_late_report_on_an_earlier_attempt_moves_that_attempt_only() -> None:
    older = attempt(status="SENT", in_flight=False)
    current = message(status="QUEUED", current_attempt_id="SM2", attempt_count=2)
    batch = batch_of((older, current))

    batch.reach("SM1", "DELIVERED")

    assert batch.attempts["SM1"].status == "DELIVERED"
    assert batch.messages["MM1"] == current
    assert stat_changes(batch) == {}


def test_a_canceled_message_stays_canceled_when_its_attempt_reports() -> None:
    canceled = message(status="CANCELED", settled=True, due_at=None)
    batch = batch_of((attempt(status="SENT", in_flight=False), canceled))

    batch.reach("SM1", "DELIVERED")

    assert batch.attempts["SM1"].status == "DELIVERED"
    assert batch.messages["MM1"] == canceled


def test_every_status_change_of_an_attempt_is_an_event_with_its_error() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))

    batch.reach("SM1", "SENT")
    batch.reach("SM1", "UNDELIVERED", error=ERROR)

    assert event_statuses(batch) == ["SENT", "UNDELIVERED"]
    last = batch.events[-1]
    assert (last.attempt_id, last.error_code, last.error_message) == ("SM1", *ERROR)


def test_a_new_attempt_counts_and_reports_itself() -> None:
    batch = batch_of(senders=(sender(),))
    batch.messages["MM1"] = message()

    batch.add_attempt(attempt(id="SM2", number=2))

    assert event_statuses(batch) == ["QUEUED"]
    assert [a.id for a in batch.new_attempts] == ["SM2"]
    assert stat_changes(batch) == {"attempts": 1}


REPORTS = ["SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED"]
BUCKETS = {status.lower() for status in MessageStatus}


@given(st.lists(st.sampled_from(REPORTS), max_size=6), st.integers(1, 3))
def test_a_message_is_always_counted_under_exactly_one_status(
    reports: list[str], candidates: int
) -> None:
    """Whatever its attempt reports, in whatever order, the counters move the Message
    out of QUEUED into the one status it ends in, and count it settled at most once."""
    batch = batch_of((attempt(), message(candidate_count=candidates, next_candidate=1)))

    for report in reports:
        batch.reach("SM1", report, error=ERROR)

    final = batch.messages["MM1"]
    buckets = {c: n for c, n in stat_changes(batch).items() if c in BUCKETS}
    expected = {} if final.status == "QUEUED" else {"queued": -1, final.status.lower(): 1}
    assert buckets == expected
    assert stat_changes(batch).get("settled", 0) == int(final.settled)
