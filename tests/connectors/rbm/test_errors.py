"""RBM's answers and events: each row of the table, and how an error reads."""

from __future__ import annotations

import pytest

from opencomms.connectors.base import Receipt, SubmitOutcome
from opencomms.connectors.rbm.errors import (
    ANSWERS,
    CONTENT_REFUSED,
    answer_for,
    error_message,
    receipt_for,
)

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome

EXPECTED = {
    200: (ACCEPTED, None),
    400: (REJECTED, CONTENT_REFUSED),
    401: (THROTTLED, None),
    403: (REJECTED, 61337),
    404: (REJECTED, 61337),
    409: (ACCEPTED, None),
    429: (THROTTLED, None),
    500: (THROTTLED, None),
    502: (THROTTLED, None),
    503: (THROTTLED, None),
    504: (THROTTLED, None),
}


def test_the_table_has_the_rows_tested() -> None:
    assert set(ANSWERS) == set(EXPECTED)


@pytest.mark.parametrize("status", sorted(EXPECTED))
def test_each_answer(status: int) -> None:
    answer = answer_for(status)
    assert (answer.outcome, answer.code) == EXPECTED[status]


@pytest.mark.parametrize(
    ("status", "outcome", "code"), [(418, REJECTED, 30008), (507, THROTTLED, None)]
)
def test_a_status_not_in_the_table(status: int, outcome: SubmitOutcome, code: int | None) -> None:
    assert (answer_for(status).outcome, answer_for(status).code) == (outcome, code)


def test_the_error_message_keeps_what_rbm_said() -> None:
    body = {
        "error": {"code": 404, "message": "Requested entity was not found.", "status": "NOT_FOUND"}
    }
    assert error_message(404, body) == "RBM 404 NOT_FOUND: Requested entity was not found."
    assert error_message(503, None) == "RBM 503 UNAVAILABLE"
    assert error_message(418, "teapot") == "RBM 418"


@pytest.mark.parametrize(
    ("event", "receipt"),
    [
        ("DELIVERED", Receipt("DELIVERED", provider_message_id="m")),
        ("READ", Receipt("READ", provider_message_id="m")),
        (
            "TTL_EXPIRATION_REVOKED",
            Receipt(
                "UNDELIVERED",
                provider_message_id="m",
                error_code=30003,
                error_message="RBM TTL_EXPIRATION_REVOKED",
            ),
        ),
        ("IS_TYPING", None),
        ("TTL_EXPIRATION_REVOKE_FAILED", None),
    ],
)
def test_events(event: str, receipt: Receipt | None) -> None:
    assert receipt_for(event, "m") == receipt
