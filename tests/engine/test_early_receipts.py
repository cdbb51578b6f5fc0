"""Receipts reach the attempts they name, and one that overtakes its submit's answer
waits for it: held under the provider's id, applied once an answer makes that id known."""

from __future__ import annotations

from opencomms.connectors.base import Receipt, SubmitOutcome, SubmitResult
from opencomms.engine.dispatcher import apply_answer, ids_answered, parts_answered
from opencomms.engine.outcomes import OutcomeBatch
from opencomms.engine.receipts import reach_attempts, receipt_of, receipts_on_parts
from opencomms.store.parts import EarlyReceipt, Part
from tests.engine.states import NOW, attempt, batch_of, event_statuses, message

LONG_PARTS = ("lab:p1", "lab:p2", "lab:p3")
SENT = {"status": "SENT", "in_flight": False, "submitted_at": NOW - 500}


def test_a_receipt_by_our_attempt_id_moves_the_attempt() -> None:
    batch = batch_of((attempt(**SENT), message(status="SENT")))

    held = reach_attempts(batch, [Receipt("DELIVERED", "SM1", connector="lab")], {})

    assert held == []
    assert batch.attempts["SM1"].status == "DELIVERED"
    assert batch.messages["MM1"].status == "DELIVERED"


def test_a_receipt_by_a_known_provider_id_moves_its_attempt() -> None:
    batch = batch_of((attempt(**SENT, provider_message_id="lab:42"), message(status="SENT")))
    receipt = Receipt("UNDELIVERED", None, "lab:42", 30003, "Unreachable", connector="lab")

    reach_attempts(batch, [receipt], {"lab:42": "SM1"})

    moved = batch.attempts["SM1"]
    assert (moved.status, moved.error_code, moved.error_message) == (
        "UNDELIVERED", 30003, "Unreachable",
    )  # fmt: skip


def test_a_receipt_whose_id_no_attempt_carries_yet_is_held_not_applied() -> None:
    batch = batch_of((attempt(), message()))
    receipt = Receipt("UNDELIVERED", None, "lab:42", 30003, "Unreachable", connector="lab")

    held = reach_attempts(batch, [receipt], {})

    assert held == [EarlyReceipt("lab:42", "UNDELIVERED", 30003, "Unreachable", NOW)]
    assert batch.attempts["SM1"] == attempt()
    assert batch.events == []


def test_a_receipt_from_another_connector_moves_nothing_and_is_not_held() -> None:
    batch = batch_of((attempt(**SENT), message(status="SENT")))

    held = reach_attempts(batch, [Receipt("FAILED", "SM1", connector="other")], {})

    assert held == []
    assert batch.attempts["SM1"].status == "SENT"


def test_a_receipt_for_an_attempt_this_database_no_longer_has_is_dropped() -> None:
    batch = batch_of((attempt(**SENT), message(status="SENT")))

    held = reach_attempts(batch, [Receipt("DELIVERED", "SM404", connector="lab")], {})

    assert held == []
    assert batch.events == []


def test_a_receipt_naming_both_ids_tells_the_attempt_the_providers_id() -> None:
    batch = batch_of((attempt(), message()))

    reach_attempts(batch, [Receipt("SENT", "SM1", "lab:42", connector="lab")], {})

    assert batch.attempts["SM1"].provider_message_id == "lab:42"


def test_a_held_receipt_is_applied_as_it_came_once_its_answer_is_in() -> None:
    batch = batch_of((attempt(), message(next_candidate=2)))
    early = Receipt("UNDELIVERED", None, "lab:42", 30003, "Unreachable", connector="lab")
    held = reach_attempts(batch, [early], {})

    answer = SubmitResult("SM1", SubmitOutcome.ACCEPTED, "lab:42")
    apply_answer(batch, answer)
    waiting = [receipt_of(h) for h in held if h.provider_message_id in ids_answered([answer])]
    reach_attempts(batch, waiting, {"lab:42": "SM1"})

    failed = batch.messages["MM1"]
    assert (failed.status, failed.error_code, failed.error_message) == (
        "UNDELIVERED", 30003, "Unreachable",
    )  # fmt: skip
    assert event_statuses(batch) == ["SENT", "UNDELIVERED"]


def receive(
    batch: OutcomeBatch, receipts: list[Receipt], kept: dict[str, Part]
) -> list[EarlyReceipt]:
    """What `apply_receipts` does with receipts by provider id, with the database's parts
    in `kept` (updated): the receipts held for want of an answer."""
    named = {r.provider_message_id for r in receipts}
    attempts = {p.attempt_id for p in kept.values() if p.provider_message_id in named}
    on_parts = receipts_on_parts(receipts, [p for p in kept.values() if p.attempt_id in attempts])
    kept.update((part.provider_message_id, part) for part in on_parts.changed_parts)
    return reach_attempts(batch, on_parts.receipts, {})


def test_a_receipt_on_part_2_of_3_before_the_answer_is_kept_and_counted_when_it_comes() -> None:
    batch = batch_of((attempt(), message()))
    kept: dict[str, Part] = {}

    held = receive(batch, [Receipt("DELIVERED", None, "lab:p2", connector="lab")], kept)
    assert [h.provider_message_id for h in held] == ["lab:p2"]
    assert batch.attempts["SM1"].status == "QUEUED"

    answer = SubmitResult("SM1", SubmitOutcome.ACCEPTED, "lab:p1", part_ids=LONG_PARTS)
    apply_answer(batch, answer)
    kept.update((part.provider_message_id, part) for part in parts_answered([answer]))
    known = ids_answered([answer])
    taken = [receipt_of(h) for h in held if h.provider_message_id in known]
    assert receive(batch, taken, kept) == []
    assert kept["lab:p2"].status == "DELIVERED"
    assert batch.attempts["SM1"].status == "SENT"  # parts 1 and 3 are still out

    rest = [Receipt("DELIVERED", None, part, connector="lab") for part in ("lab:p1", "lab:p3")]
    receive(batch, rest, kept)

    assert batch.attempts["SM1"].status == "DELIVERED"
    assert batch.messages["MM1"].status == "DELIVERED"
    assert event_statuses(batch) == ["SENT", "DELIVERED"]
