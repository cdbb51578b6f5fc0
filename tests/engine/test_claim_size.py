"""How big the dispatcher's next claim is: about what its connectors submit in
SUBMIT_TARGET_S, growing back at most twofold a claim, within [MIN_BATCH, the batch]."""

from __future__ import annotations

from hypothesis import given
from hypothesis import strategies as st

from opencomms.engine.dispatcher import BATCH, MIN_BATCH, SUBMIT_TARGET_S, next_claim_size


def test_a_claim_submitted_quickly_doubles_the_next() -> None:
    assert next_claim_size(100, BATCH, submitted=100, submit_s=0.01) == 200


def test_claims_never_grow_past_the_batch() -> None:
    assert next_claim_size(400, BATCH, submitted=400, submit_s=0.01) == BATCH


def test_a_claim_a_slow_connector_held_shrinks_to_what_it_submits_in_the_target_time() -> None:
    # 100 submissions in 1 s: 25 fit in 0.25 s
    assert next_claim_size(100, BATCH, submitted=100, submit_s=1.0) == 25


def test_claims_never_shrink_below_the_minimum() -> None:
    assert next_claim_size(100, BATCH, submitted=100, submit_s=60.0) == MIN_BATCH


def test_a_claim_with_nothing_submitted_says_nothing_of_speed() -> None:
    # only recoveries or settled Messages: the size stays as it was
    assert next_claim_size(137, BATCH, submitted=0, submit_s=30.0) == 137


def test_an_instant_submit_does_not_divide_by_zero() -> None:
    assert next_claim_size(50, BATCH, submitted=50, submit_s=0.0) == 100


sizes = st.integers(MIN_BATCH, BATCH)


@given(sizes, st.integers(1, BATCH), st.floats(0, 100, allow_nan=False))
def test_the_next_size_stays_in_bounds_and_at_most_doubles(
    size: int, submitted: int, submit_s: float
) -> None:
    after = next_claim_size(size, BATCH, submitted, submit_s)
    assert MIN_BATCH <= after <= BATCH
    assert after <= 2 * size


@given(sizes, st.integers(1, 10_000))
def test_claims_settle_at_what_the_connector_submits_in_the_target_time(
    size: int, rate: int
) -> None:
    """A connector that submits `rate` a second: within a few claims, a claim is what
    it submits in SUBMIT_TARGET_S (within the bounds), and stays there."""
    sizes_seen = []
    for _ in range(10):
        size = next_claim_size(size, BATCH, submitted=size, submit_s=size / rate)
        sizes_seen.append(size)
    target = max(MIN_BATCH, min(BATCH, int(rate * SUBMIT_TARGET_S)))
    assert all(abs(seen - target) <= 1 for seen in sizes_seen[-4:]), (target, sizes_seen)
