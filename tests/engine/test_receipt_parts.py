"""Receipts on the parts of a long SMS: the attempt is DELIVERED once every part is,
UNDELIVERED or FAILED as soon as one part is; other receipts pass through untouched."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opencomms.connectors.base import Receipt
from opencomms.engine.receipts import receipts_on_parts
from opencomms.store.parts import Part


def sent_parts(attempt_id: str = "SM1", count: int = 3) -> list[Part]:
    return [Part(f"lab:{attempt_id}-{n}", attempt_id, n, "SENT") for n in range(1, count + 1)]


def on_part(
    status: str,
    number: int,
    attempt_id: str = "SM1",
    error_code: int | None = None,
    error_message: str | None = None,
) -> Receipt:
    """A receipt on part `number` of `attempt_id`, by the part's provider id."""
    part_id = f"lab:{attempt_id}-{number}"
    return Receipt(status, None, part_id, error_code, error_message)


def test_without_known_parts_every_receipt_passes_through() -> None:
    receipts = [Receipt("DELIVERED", provider_message_id="lab:1"), Receipt("SENT", "SM9")]

    found = receipts_on_parts(receipts, [])

    assert (found.receipts, found.changed_parts) == (receipts, [])


def test_one_delivered_part_of_three_does_not_move_the_attempt() -> None:
    found = receipts_on_parts([on_part("DELIVERED", 2)], sent_parts())

    assert found.receipts == []
    assert found.changed_parts == [Part("lab:SM1-2", "SM1", 2, "DELIVERED")]


def test_the_last_part_delivered_delivers_the_attempt() -> None:
    known = [
        Part("lab:SM1-1", "SM1", 1, "DELIVERED"),
        Part("lab:SM1-2", "SM1", 2, "DELIVERED"),
        Part("lab:SM1-3", "SM1", 3, "SENT"),
    ]

    found = receipts_on_parts([on_part("DELIVERED", 3)], known)

    assert found.receipts == [Receipt("DELIVERED", "SM1")]


def test_every_part_delivered_in_one_batch_delivers_the_attempt_once() -> None:
    receipts = [on_part("DELIVERED", n) for n in (3, 1, 2)]

    found = receipts_on_parts(receipts, sent_parts())

    assert found.receipts == [Receipt("DELIVERED", "SM1")]
    assert {p.status for p in found.changed_parts} == {"DELIVERED"}


def test_one_undelivered_part_makes_the_attempt_undelivered_with_its_error() -> None:
    failing = on_part("UNDELIVERED", 2, error_code=30003, error_message="Unreachable")

    found = receipts_on_parts([on_part("DELIVERED", 1), failing], sent_parts())

    assert found.receipts == [
        Receipt("UNDELIVERED", "SM1", None, error_code=30003, error_message="Unreachable")
    ]


def test_the_first_failed_part_of_a_batch_gives_the_attempt_its_error() -> None:
    first = on_part("FAILED", 3, error_code=30008, error_message="first")
    second = on_part("UNDELIVERED", 1, error_code=30003, error_message="second")

    found = receipts_on_parts([first, second], sent_parts())

    assert [(r.status, r.error_message) for r in found.receipts] == [("FAILED", "first")]


def test_a_part_keeps_its_first_final_status() -> None:
    known = [Part("lab:SM1-1", "SM1", 1, "UNDELIVERED"), *sent_parts()[1:]]

    found = receipts_on_parts([on_part("DELIVERED", 1)], known)

    assert found.changed_parts == []
    assert found.receipts == []  # not every part DELIVERED: the attempt stays as it is


def test_a_non_final_receipt_on_a_part_changes_nothing() -> None:
    found = receipts_on_parts([on_part("SENT", 1)], sent_parts())
    assert (found.receipts, found.changed_parts) == ([], [])


def test_receipts_on_the_parts_of_two_attempts_move_each_alone() -> None:
    known = sent_parts("SM1", 2) + sent_parts("SM2", 2)
    receipts = [on_part("DELIVERED", 1, "SM1"), on_part("DELIVERED", 2, "SM1")]
    receipts += [on_part("DELIVERED", 1, "SM2")]

    found = receipts_on_parts(receipts, known)

    assert found.receipts == [Receipt("DELIVERED", "SM1")]


def test_receipts_not_on_a_part_are_kept_as_they_are() -> None:
    by_attempt = Receipt("DELIVERED", "SM7", "lab:SM1-1")  # names our attempt: not a part's
    elsewhere = Receipt("DELIVERED", provider_message_id="lab:other")

    found = receipts_on_parts([by_attempt, elsewhere, on_part("SENT", 1)], sent_parts())

    assert found.receipts == [by_attempt, elsewhere]


part_reports = st.lists(
    st.tuples(st.integers(1, 3), st.sampled_from(["SENT", "DELIVERED", "UNDELIVERED"])),
    max_size=8,
)


@given(part_reports)
def test_the_attempt_hears_delivered_only_when_every_part_is(
    reports: list[tuple[int, str]],
) -> None:
    """Received in one batch, in any order, with duplicates: the attempt is told
    UNDELIVERED if any part was, else DELIVERED if every part was, else nothing."""
    found = receipts_on_parts([on_part(status, n) for n, status in reports], sent_parts())

    delivered = {n for n, status in reports if status == "DELIVERED"}
    if any(status == "UNDELIVERED" for _, status in reports):
        expected = ["UNDELIVERED"]
    elif delivered == {1, 2, 3}:
        expected = ["DELIVERED"]
    else:
        expected = []
    assert [r.status for r in found.receipts] == expected
    assert all(r.attempt_id == "SM1" for r in found.receipts)
