"""Fair shares of a claim: a send started after a large campaign is not queued behind
it; up to FAIR_OPERATIONS running operations each get an equal share, taking turns."""

from __future__ import annotations

import math

from hypothesis import given
from hypothesis import strategies as st

from opencomms.engine.dispatcher import FAIR_OPERATIONS, MIN_BATCH, fair_turn


def running(count: int) -> list[str]:
    return [f"OP{n:02d}" for n in range(count)]


def test_a_lone_running_operation_gets_no_share_the_claim_goes_in_due_order() -> None:
    turn = fair_turn(["OP1"], 0, 100)
    assert (turn.operations, turn.share) == ([], 0)


def test_with_nothing_running_the_claim_goes_in_due_order() -> None:
    assert fair_turn([], 3, 100).operations == []


def test_a_campaign_and_a_later_single_send_share_the_claim_equally() -> None:
    turn = fair_turn(["campaign", "single"], 0, 100)
    assert sorted(turn.operations) == ["campaign", "single"]
    assert turn.share == 50


def test_at_most_fair_operations_share_one_claim() -> None:
    turn = fair_turn(running(20), 0, 200)
    assert len(turn.operations) == FAIR_OPERATIONS
    assert turn.share == 200 // FAIR_OPERATIONS


def test_the_next_claim_goes_on_where_this_turn_ended() -> None:
    ops = running(10)
    first = fair_turn(ops, 0, 100)
    second = fair_turn(ops, first.start, 100)
    assert first.operations == [*ops[8:], *ops[:6]]
    assert second.operations == [*ops[6:], *ops[:4]]


def test_each_operation_gets_a_share_of_at_least_one() -> None:
    turn = fair_turn(running(8), 0, 5)
    assert turn.share == 1


@given(st.integers(2, FAIR_OPERATIONS * 4), st.integers(0, 1_000), st.integers(MIN_BATCH, 500))
def test_shares_are_equal_and_fill_the_claim_but_for_less_than_one_each(
    count: int, last_start: int, size: int
) -> None:
    turn = fair_turn(running(count), last_start % count, size)
    taken = turn.share * len(turn.operations)
    assert len(set(turn.operations)) == len(turn.operations) == min(count, FAIR_OPERATIONS)
    assert taken <= size
    assert size - taken < len(turn.operations)  # the rest, filled in due order


@given(st.integers(2, FAIR_OPERATIONS * 4), st.integers(0, 1_000))
def test_every_running_operation_gets_a_turn_within_a_round_of_claims(
    count: int, first_start: int
) -> None:
    ops = running(count)
    start = first_start % count
    served: set[str] = set()
    for _ in range(math.ceil(count / FAIR_OPERATIONS)):
        turn = fair_turn(ops, start, 100)
        start = turn.start
        served.update(turn.operations)
    assert served == set(ops)
