"""A connector's answer to a submit, applied to its attempt and Message: accepted is
SENT, refused is FAILED and the fallback moves on, throttled is tried again later."""

from __future__ import annotations

from opencomms.connectors.base import SubmitOutcome, SubmitResult
from opencomms.engine.dispatcher import apply_answer, ids_answered, parts_answered
from opencomms.store.parts import Part
from tests.engine.states import FALLBACK_MS, NOW, attempt, batch_of, message, stat_changes

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome


def test_an_accepted_submit_makes_the_attempt_sent_with_the_providers_id() -> None:
    batch = batch_of((attempt(), message()))

    apply_answer(batch, SubmitResult("SM1", ACCEPTED, "lab:42"))

    sent = batch.attempts["SM1"]
    assert (sent.status, sent.in_flight, sent.provider_message_id) == ("SENT", False, "lab:42")
    assert batch.messages["MM1"].status == "SENT"
    assert batch.messages["MM1"].due_at == NOW + FALLBACK_MS


def test_a_permanent_error_moves_the_message_to_its_next_candidate() -> None:
    batch = batch_of((attempt(), message()))

    apply_answer(batch, SubmitResult("SM1", REJECTED, None, 21610, "Unsubscribed recipient"))

    failed = batch.attempts["SM1"]
    assert (failed.status, failed.error_code, failed.error_message) == (
        "FAILED", 21610, "Unsubscribed recipient",
    )  # fmt: skip
    moved = batch.messages["MM1"]
    assert (moved.status, moved.settled, moved.due_at) == ("QUEUED", False, NOW)


def test_a_permanent_error_on_the_last_candidate_fails_the_message_with_that_error() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))

    apply_answer(batch, SubmitResult("SM1", REJECTED, None, 21610, "Unsubscribed recipient"))

    failed = batch.messages["MM1"]
    assert (failed.status, failed.settled, failed.due_at) == ("FAILED", True, None)
    assert (failed.error_code, failed.error_message) == (21610, "Unsubscribed recipient")


def test_a_refusal_without_an_error_is_30008() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))

    apply_answer(batch, SubmitResult("SM1", REJECTED))

    assert batch.messages["MM1"].error_code == 30008
    assert batch.messages["MM1"].error_message == "Rejected by the provider."


def test_a_throttled_submit_is_tried_again_later_without_a_failed_attempt() -> None:
    batch = batch_of((attempt(), message()))

    apply_answer(batch, SubmitResult("SM1", THROTTLED, retry_after_ms=2_000))

    again = batch.attempts["SM1"]
    assert (again.status, again.in_flight) == ("QUEUED", False)
    assert batch.messages["MM1"].due_at == NOW + 2_000
    assert batch.messages["MM1"].status == "QUEUED"
    assert batch.events == []
    assert stat_changes(batch) == {}


def test_a_throttled_earlier_attempt_does_not_move_the_message() -> None:
    current = message(current_attempt_id="SM2", due_at=NOW + 9_000)
    batch = batch_of((attempt(), current))

    apply_answer(batch, SubmitResult("SM1", THROTTLED, retry_after_ms=2_000))

    assert batch.messages["MM1"].due_at == NOW + 9_000


def test_an_answer_after_a_receipt_only_tells_the_providers_id() -> None:
    delivered = attempt(status="DELIVERED", in_flight=False, submitted_at=NOW - 500)
    batch = batch_of((delivered, message(status="DELIVERED", settled=True, due_at=None)))

    apply_answer(batch, SubmitResult("SM1", REJECTED, "lab:42", 30008, "too late"))

    after = batch.attempts["SM1"]
    assert (after.status, after.provider_message_id) == ("DELIVERED", "lab:42")
    assert batch.messages["MM1"].status == "DELIVERED"
    assert batch.events == []


def test_an_answer_after_a_receipt_keeps_an_id_already_known() -> None:
    moved = attempt(status="SENT", in_flight=False, provider_message_id="lab:41")
    batch = batch_of((moved, message(status="SENT")))

    apply_answer(batch, SubmitResult("SM1", ACCEPTED, "lab:42"))

    assert batch.attempts["SM1"].provider_message_id == "lab:41"


LONG = SubmitResult("SM1", ACCEPTED, "lab:p1", part_ids=("lab:p1", "lab:p2", "lab:p3"))


def test_an_accepted_long_message_keeps_each_part_numbered_and_sent() -> None:
    assert parts_answered([LONG, SubmitResult("SM2", ACCEPTED, "lab:9")]) == [
        Part("lab:p1", "SM1", 1, "SENT"),
        Part("lab:p2", "SM1", 2, "SENT"),
        Part("lab:p3", "SM1", 3, "SENT"),
    ]


def test_a_refused_submit_keeps_no_parts() -> None:
    refused = SubmitResult("SM1", REJECTED, None, part_ids=("lab:p1", "lab:p2"))
    assert parts_answered([refused]) == []


def test_early_receipts_are_looked_for_under_every_id_an_answer_made_known() -> None:
    answers = [
        LONG,
        SubmitResult("SM2", ACCEPTED, "lab:9"),
        SubmitResult("SM3", ACCEPTED, None),  # a connector that names our ids
        SubmitResult("SM4", REJECTED, "lab:10"),
        SubmitResult("SM5", THROTTLED),
    ]
    assert ids_answered(answers) == ["lab:p1", "lab:p2", "lab:p3", "lab:9"]
