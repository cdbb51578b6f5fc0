"""Admission: past `[limits] max_backlog_per_account`, an account's sends are 429 with
`Retry-After` and change nothing; other accounts are not held; once the backlog drains
under the bound, sends are accepted again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.settings import LimitSettings, SimulatorSettings
from tests.support.polling import operation, send, wait_completed, wait_until
from tests.support.server import ThreadServer, account_client, running_server

BOUND = 10
THROUGHPUT = 10  # messages a second per sender: a backlog of BOUND drains in about 1 s


def phones(count: int, first: int = 0) -> list[dict[str, str]]:
    """Ordinary numbers: the simulator delivers each at once."""
    numbers = (f"+1415000{1000 + first + n:04d}" for n in range(count))
    return [{"address": number, "channel": "PHONE"} for number in numbers]


def body(count: int, first: int = 0) -> dict[str, object]:
    return {"to": phones(count, first), "content": {"text": "Your code: 1234"}}


def bounded_server(backend: str, directory: Path, refresh: str) -> Iterator[ThreadServer]:
    with running_server(
        backend,
        directory,
        limits=LimitSettings(max_backlog_per_account=BOUND, backlog_refresh=refresh),
        simulator=SimulatorSettings(throughput=THROUGHPUT, receipt_latency_ms=[0, 5]),
    ) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def bounded(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """Every POST reads the backlog afresh (1 ms refresh)."""
    directory = tmp_path_factory.mktemp(f"admission-{request.param}")
    yield from bounded_server(request.param, directory, "1ms")


def operation_ids(api: httpx.Client) -> list[str]:
    response = api.get("/Messages/Operations", params={"pageSize": 100})
    assert response.status_code == 200, response.text
    return [op["id"] for op in response.json()["operations"]]


def assert_too_many(response: httpx.Response) -> int:
    assert response.status_code == 429, response.text
    error = response.json()
    assert error["code"] == 20429 and error["status"] == 429, error
    assert "limit of 10" in error["message"], error
    retry_after = int(response.headers["Retry-After"])
    assert 1 <= retry_after <= 60
    return retry_after


def test_over_the_bound_a_send_is_429_and_stores_nothing(bounded: ThreadServer) -> None:
    with account_client(bounded) as api:
        first = send(api, body(BOUND))
        key = {"Idempotency-Key": "admission-1"}
        assert_too_many(api.post("/Messages", json=body(1, BOUND), headers=key))
        assert operation_ids(api) == [first]

        # the refused send did not consume its key: once drained, it is accepted
        wait_completed(api, first)
        retried = api.post("/Messages", json=body(1, BOUND), headers=key)
        assert retried.status_code == 202, retried.text
        assert retried.json()["operationId"] != first
        wait_completed(api, retried.json()["operationId"])


def test_another_account_is_not_held(bounded: ThreadServer) -> None:
    with account_client(bounded) as flooding, account_client(bounded) as other:
        flood = send(flooding, body(BOUND))
        assert_too_many(flooding.post("/Messages", json=body(1, BOUND)))
        lone = send(other, body(1))
        wait_completed(other, lone)
        wait_completed(flooding, flood)


def test_back_under_the_bound_sends_are_accepted_again(bounded: ThreadServer) -> None:
    with account_client(bounded) as api:
        flood = send(api, body(BOUND))
        assert_too_many(api.post("/Messages", json=body(1, BOUND)))

        def retried() -> httpx.Response | None:
            response = api.post("/Messages", json=body(1, BOUND))
            return response if response.status_code == 202 else None

        # each Message submitted leaves the backlog, before its operation completes
        accepted = wait_until(retried, interval=0.2)
        wait_completed(api, accepted.json()["operationId"])
        wait_completed(api, flood)


def test_a_scheduled_send_is_not_backlog(bounded: ThreadServer) -> None:
    with account_client(bounded) as api:
        later = {**body(BOUND), "schedule": {"sendAt": ["2030-01-01T00:00:00Z"]}}
        scheduled = send(api, later)
        assert operation(api, scheduled)["status"] == "SCHEDULED"
        wait_completed(api, send(api, body(1, BOUND)))


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def slow_refresh(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """The backlog is read once an hour: between reads, the process counts its own sends."""
    directory = tmp_path_factory.mktemp(f"admission-slow-{request.param}")
    yield from bounded_server(request.param, directory, "1h")


def test_between_reads_the_process_counts_what_it_accepted(slow_refresh: ThreadServer) -> None:
    with account_client(slow_refresh) as api:
        for n in range(BOUND):
            send(api, body(1, n))
        assert_too_many(api.post("/Messages", json=body(1, BOUND)))
        assert len(operation_ids(api)) == BOUND
