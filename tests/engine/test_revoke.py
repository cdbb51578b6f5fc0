"""How long a provider may try to deliver an attempt, and taking back the attempts the
fallback moved on from.

Each submission carries `valid_for_ms`: the sender's fallback timeout when another
candidate follows, else 0. A SENT attempt whose fallback timeout ran out, when the
Message moves on to its next candidate, is handed back to its connector's `revoke`
(after the claim is committed, without holding up the submits); a delivered, failed or
last attempt never is.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import httpx
import pytest

from opencomms.connectors.base import (
    AnswerHandler,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitOutcome,
    SubmitResult,
)
from opencomms.settings import ServerSettings, Settings, SimulatorSettings
from tests.conftest import BACKENDS
from tests.engine.states import FALLBACK_MS, NOW, TO, attempt, due, message, sender
from tests.engine.test_planning import new_message, plan
from tests.support.databases import database_url
from tests.support.polling import wait_completed, wait_until
from tests.support.server import ThreadServer, account_client

SENT_LONG_AGO = NOW - 60_000


def sent(**changes: Any) -> Any:
    return attempt(status="SENT", in_flight=False, submitted_at=SENT_LONG_AGO, **changes)


# --- planning: valid_for_ms ------------------------------------------------------------------


def test_an_attempt_with_a_candidate_after_it_may_be_tried_for_the_fallback_timeout() -> None:
    _, claimed = plan(due(new_message()))

    [submission] = claimed.submit["lab"]
    assert submission.valid_for_ms == FALLBACK_MS


def test_an_attempt_on_the_last_candidate_is_left_to_the_providers_own_limit() -> None:
    failed = attempt(status="FAILED", in_flight=False, error_code=30008, error_message="No")
    rcs = sender("SN2", channel="RCS", connector="rbm", fallback_timeout_ms=5_000)

    _, claimed = plan(due(message(), failed), senders={"SN1": sender(), "SN2": rcs})

    [submission] = claimed.submit["rbm"]
    assert submission.valid_for_ms == 0


def test_the_window_is_the_attempts_own_senders() -> None:
    three = ((TO, "PHONE", "SN1"), (TO, "PHONE", "SN2"), (TO, "PHONE", "SN3"))
    failed = attempt(status="FAILED", in_flight=False, error_code=30008, error_message="No")
    known = {
        "SN1": sender("SN1"),
        "SN2": sender("SN2", connector="rbm", fallback_timeout_ms=7_000),
        "SN3": sender("SN3"),
    }

    _, claimed = plan(due(message(candidate_count=3), failed, candidates=three), senders=known)

    assert [s.valid_for_ms for s in claimed.submit["rbm"]] == [7_000]


def test_a_throttled_or_recovered_attempt_keeps_its_window() -> None:
    throttled = attempt(in_flight=False)
    _, again = plan(due(message(), throttled))
    _, recovered = plan(due(message(), attempt()))

    assert [s.valid_for_ms for s in again.submit["lab"]] == [FALLBACK_MS]
    assert [s.valid_for_ms for s in recovered.recover["lab"]] == [FALLBACK_MS]
    last = message(next_candidate=2)
    _, on_last = plan(due(last, throttled))
    assert [s.valid_for_ms for s in on_last.submit["lab"]] == [0]


# --- planning: what is revoked ----------------------------------------------------------------


def test_a_sent_attempt_the_fallback_moves_on_from_is_to_be_revoked() -> None:
    batch, claimed = plan(due(message(status="SENT"), sent()))

    [made] = batch.new_attempts
    assert [s.attempt_id for s in claimed.submit["rbm"]] == [made.id]
    [abandoned] = claimed.revoke["lab"]
    assert (abandoned.attempt_id, abandoned.message_id, abandoned.to_address) == ("SM1", "MM1", TO)
    assert abandoned.channel == "SMS"


def test_a_failed_attempt_is_not_revoked() -> None:
    failed = attempt(status="FAILED", in_flight=False, error_code=30008, error_message="No")
    _, claimed = plan(due(message(status="QUEUED"), failed))

    assert claimed.submit
    assert claimed.revoke == {}


def test_a_new_message_revokes_nothing() -> None:
    _, claimed = plan(due(new_message()))

    assert claimed.revoke == {}


def test_a_sent_attempt_on_the_last_candidate_is_not_revoked_when_its_wait_runs_out() -> None:
    _, claimed = plan(due(message(status="SENT", next_candidate=2), sent()))

    assert claimed.revoke == {}


def test_a_sent_attempt_with_no_usable_candidate_after_it_stays() -> None:
    """The Message settles as SENT on it: nothing else is sent, so nothing is taken back."""
    paused = sender("SN2", status="DEACTIVATED")
    batch, claimed = plan(
        due(message(status="SENT"), sent()), senders={"SN1": sender(), "SN2": paused}
    )

    assert batch.new_attempts == []
    assert (batch.messages["MM1"].status, batch.messages["MM1"].settled) == ("SENT", True)
    assert claimed.revoke == {}


# --- through the dispatcher ------------------------------------------------------------------

FALLBACK = "2s"
DELIVERS, REFUSES, SILENT = "+14155552001", "+14155552002", "+14155552003"


class RevokingRcs:
    """An RCS connector whose provider keeps what it took (as RBM does): delivers to
    DELIVERS, refuses REFUSES, and never reports on anything else; records what it is
    handed and what it is asked to take back."""

    name = "revoking"
    channels = frozenset({"RCS"})

    def __init__(self) -> None:
        self.submitted: list[Submission] = []
        self.revoked: list[Submission] = []
        self._receipts: ReceiptHandler | None = None

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        self.submitted += submissions
        results = []
        for submission in submissions:
            if submission.to_address == REFUSES:
                results.append(
                    SubmitResult(submission.attempt_id, SubmitOutcome.REJECTED, None, 30008, "no")
                )
                continue
            results.append(
                SubmitResult(
                    submission.attempt_id, SubmitOutcome.ACCEPTED, f"r-{submission.attempt_id}"
                )
            )
            if submission.to_address == DELIVERS:
                asyncio.get_running_loop().call_later(0.05, self._deliver, submission.attempt_id)
        return results

    def _deliver(self, attempt_id: str) -> None:
        assert self._receipts is not None
        self._receipts(Receipt("DELIVERED", attempt_id=attempt_id))

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        taken = {s.attempt_id for s in self.submitted}
        return {attempt_id: attempt_id in taken for attempt_id in attempt_ids}

    async def revoke(self, submissions: Sequence[Submission]) -> None:
        self.revoked += submissions

    async def close(self) -> None:
        pass


@pytest.fixture(params=BACKENDS)
def revoking_server(
    request: pytest.FixtureRequest, tmp_path: Path
) -> Iterator[tuple[ThreadServer, RevokingRcs]]:
    """A server whose engine runs the RevokingRcs connector beside the simulator."""
    with database_url(request.param, str(tmp_path)) as url:
        settings = Settings(
            server=ServerSettings(database_url=url, secret_key_file=str(tmp_path / "key")),
            simulator=SimulatorSettings(receipt_latency_ms=[0, 5]),
        )
        server = ThreadServer(settings)
        connector = RevokingRcs()
        server.runtime.connectors[connector.name] = connector  # type: ignore[assignment]
        server.start()
        try:
            yield server, connector
        finally:
            server.stop()


def _pool(api: httpx.Client) -> str:
    """RCS through the revoking connector, then the simulator's SMS."""
    created = api.post(
        "/Senders",
        json={
            "address": "brand_agent",
            "channel": "RCS",
            "connector": "revoking",
            "fallbackTimeout": FALLBACK,
        },
    )
    assert created.status_code == 201, created.text
    listed = api.get("/Senders", params={"pageSize": 100}).json()["senders"]
    [sms] = [s for s in listed if s["channel"] == "SMS" and s["connector"] == "simulator"]
    pool = api.post(
        "/SenderPools", json={"name": "rcs-then-sms", "senders": [created.json()["id"], sms["id"]]}
    )
    assert pool.status_code == 202, pool.text
    pool_id: str = pool.json()["id"]
    return pool_id


def test_the_dispatcher_revokes_exactly_the_attempt_the_fallback_left(
    revoking_server: tuple[ThreadServer, RevokingRcs],
) -> None:
    server, connector = revoking_server
    with account_client(server) as api:
        to = [{"address": address, "channel": "PHONE"} for address in (DELIVERS, REFUSES, SILENT)]
        body = {"to": to, "content": {"text": "Hi"}, "from": {"senderPoolId": _pool(api)}}
        response = api.post("/Messages", json=body)
        assert response.status_code == 202, response.text

        final = wait_completed(api, response.json()["operationId"], timeout=60)

    assert final["stats"]["delivered"] == 3  # on RCS, then on SMS after a refusal and a timeout
    by_address = {s.to_address: s for s in connector.submitted}
    assert sorted(by_address) == [DELIVERS, REFUSES, SILENT]
    assert {s.valid_for_ms for s in connector.submitted} == {2_000}
    revoked = wait_until(lambda: connector.revoked, timeout=10)
    assert [s.attempt_id for s in revoked] == [by_address[SILENT].attempt_id]
    assert revoked[0].channel == "RCS"
