"""The attempt state machine: reports fill in skipped statuses and never go backwards."""

from __future__ import annotations

import itertools

import pytest
from hypothesis import given
from hypothesis import strategies as st

from opencomms.domain.lifecycle import steps_to
from opencomms.domain.statuses import MessageStatus

Q, S, D, R, U, F = "QUEUED", "SENT", "DELIVERED", "READ", "UNDELIVERED", "FAILED"


@pytest.mark.parametrize(
    ("current", "reported", "steps"),
    [
        (Q, S, [S]),
        (Q, D, [S, D]),  # a receipt before the submit's answer
        (Q, R, [S, D, R]),
        (S, R, [D, R]),  # READ before DELIVERED
        (D, R, [R]),
        (Q, U, [S, U]),
        (S, U, [U]),
        (Q, F, [F]),  # refused at submit
        (S, F, [F]),
        (S, S, []),  # a duplicate
        (D, D, []),
        (R, D, []),  # stale
        (D, S, []),
        (D, U, []),  # a second final status
        (U, R, []),
        (F, D, []),
    ],
)
def test_steps(current: str, reported: str, steps: list[str]) -> None:
    assert steps_to(current, reported) == steps


ORDER = {Q: 0, S: 1, D: 2, U: 2, F: 2, R: 3}
statuses = st.sampled_from([Q, S, D, R, U, F])


@given(statuses, statuses)
def test_steps_only_move_forward_and_end_at_the_report(current: str, reported: str) -> None:
    steps = steps_to(current, reported)
    path = [current, *steps]
    assert all(ORDER[a] < ORDER[b] for a, b in itertools.pairwise(path))
    assert not steps or steps[-1] == reported
    assert all(step in MessageStatus.__members__ for step in steps)
