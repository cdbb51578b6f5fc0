"""Pacing small sends: while an account's small sends waiting are at
`[limits] pace_small_sends_at`, its next small send waits for room before it is stored,
and is a 429 once `[limits] pace_wait` has passed; other accounts, large sends and
scheduled sends do not wait."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from typing import NamedTuple

import httpx
import pytest

from opencomms.settings import LimitSettings, SimulatorSettings
from tests.api.test_admission import body, operation_ids
from tests.support.polling import operation, wait_completed
from tests.support.server import ThreadServer, account_client, running_server

PACE = 5  # recipients of small sends waiting


def paced_server(
    request: pytest.FixtureRequest,
    factory: pytest.TempPathFactory,
    *,
    wait: str,
    throughput: float,
) -> Iterator[ThreadServer]:
    """A server whose sender is capped at `throughput` messages a second, so that a
    backlog of PACE drains in PACE / throughput seconds."""
    directory = factory.mktemp(f"pacing-{request.param}")
    limits = LimitSettings(
        max_backlog_per_account=0, pace_small_sends_at=PACE, pace_wait=wait, backlog_refresh="50ms"
    )
    simulator = SimulatorSettings(throughput=throughput, receipt_latency_ms=[0, 5])
    with running_server(request.param, directory, limits=limits, simulator=simulator) as server:
        yield server


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def short_wait(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A message drains every 10 s; a paced send waits 2 s at most."""
    yield from paced_server(request, tmp_path_factory, wait="2s", throughput=0.1)


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def long_wait(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A message drains every 2 s; a paced send may wait 60 s."""
    yield from paced_server(request, tmp_path_factory, wait="60s", throughput=0.5)


def timed_post(
    api: httpx.Client, payload: dict[str, object], headers: dict[str, str] | None = None
) -> tuple[httpx.Response, float]:
    started = time.monotonic()
    response = api.post("/Messages", json=payload, headers=headers)
    return response, time.monotonic() - started


class Held(NamedTuple):
    through: list[str]  # the operations of the sends let through at once
    response: httpx.Response  # the answer to the send held
    waited: float  # seconds it took
    retry: tuple[dict[str, object], dict[str, str]]  # its body and Idempotency-Key


def flood(api: httpx.Client) -> Held:
    """Single sends one after another, each with its own Idempotency-Key, until one is
    held (answered after 1 s or more). The simulator's cap lets a sender's first message
    go at once, so PACE or PACE + 1 go through."""
    through: list[str] = []
    for n in range(PACE + 3):
        payload, key = body(1, n), {"Idempotency-Key": f"pacing-{uuid.uuid4()}"}
        response, waited = timed_post(api, payload, key)
        if waited >= 1.0:
            assert PACE <= len(through) <= PACE + 1, f"held after {len(through)} sends"
            return Held(through, response, waited, (payload, key))
        assert response.status_code == 202, response.text
        through.append(response.json()["operationId"])
    raise AssertionError(f"{len(through)} single sends, none held: no pacing")


def at_the_pace(api: httpx.Client) -> None:
    """The account's small sends waiting reach the pace (the last send is refused)."""
    flood(api)


def test_a_small_send_past_the_pace_waits_then_is_429_and_stores_nothing(
    short_wait: ThreadServer,
) -> None:
    with account_client(short_wait) as api:
        through, refused, waited, (payload, key) = flood(api)

        assert refused.status_code == 429, refused.text
        error = refused.json()
        assert error["code"] == 20429 and "pace of 5" in error["message"], error
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        assert waited >= 1.9, f"answered after {waited:.2f} s, before pace_wait (2 s)"
        assert sorted(operation_ids(api)) == sorted(through)

        # the refused send did not consume its key: sent again, it is held again
        again, waited_again = timed_post(api, payload, key)
        assert again.status_code == 429 and waited_again >= 1.9, again.text


def test_a_waiting_send_is_let_through_once_the_backlog_drains(long_wait: ThreadServer) -> None:
    with account_client(long_wait) as api:
        through, accepted, _, _ = flood(api)

        assert accepted.status_code == 202, accepted.text
        for operation_id in [*through, accepted.json()["operationId"]]:
            wait_completed(api, operation_id, timeout=90)


def test_another_account_a_large_send_and_a_scheduled_one_do_not_wait(
    short_wait: ThreadServer,
) -> None:
    with account_client(short_wait) as flooding, account_client(short_wait) as other:
        at_the_pace(flooding)

        # each would be a 429 after pace_wait if it waited for the flooding account's room
        lone = other.post("/Messages", json=body(1))
        large = flooding.post("/Messages", json=body(101, PACE))
        later = {**body(1, 200), "schedule": {"sendAt": ["2030-01-01T00:00:00Z"]}}
        scheduled = flooding.post("/Messages", json=later)

        assert lone.status_code == 202, lone.text
        assert large.status_code == 202, large.text
        assert scheduled.status_code == 202, scheduled.text
        assert operation(flooding, scheduled.json()["operationId"])["status"] == "SCHEDULED"
