"""Attempts found in flight after a restart: only what the connector is sure it never
got is submitted again; what it got, or cannot tell about, is never sent twice."""

from __future__ import annotations

from opencomms.connectors.base import Submission, SubmitOutcome, SubmitResult
from opencomms.engine.dispatcher import recovery


def submission(attempt_id: str) -> Submission:
    return Submission(
        attempt_id, "MM1", "OP1", "AC1", "SMS", "+12065550100", "+14155550100", {"text": "Hi"}
    )


NEVER, GOT, UNSURE, UNASKED = (submission(i) for i in ("SM1", "SM2", "SM3", "SM4"))
KNOWN = {"SM1": False, "SM2": True, "SM3": None}


def test_only_an_attempt_the_connector_surely_never_got_is_submitted_again() -> None:
    assert recovery([NEVER, GOT, UNSURE, UNASKED], KNOWN).resubmit == [NEVER]


def test_an_attempt_it_got_or_cannot_tell_about_is_taken_as_sent() -> None:
    taken = recovery([NEVER, GOT, UNSURE, UNASKED], KNOWN).taken
    accepted = SubmitOutcome.ACCEPTED
    assert taken == [SubmitResult(i, accepted) for i in ("SM2", "SM3", "SM4")]


def test_each_attempt_goes_one_way_only() -> None:
    found = recovery([NEVER, GOT, UNSURE, UNASKED], KNOWN)
    ids = [s.attempt_id for s in found.resubmit] + [r.attempt_id for r in found.taken]
    assert sorted(ids) == ["SM1", "SM2", "SM3", "SM4"]
