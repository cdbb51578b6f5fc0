"""Fixtures: every API test runs against a real server on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from opencomms.settings import SimulatorSettings
from tests.support.server import ThreadServer, account_client, running_server

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """One running server per backend, shared by the session; tests isolate by account."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    simulator = SimulatorSettings(
        receipt_latency_ms=[0, 5],
        submit_log=str(directory / "submits.jsonl"),
        fallback_timeout="400ms",
        receipt_wait="800ms",
    )
    with running_server(request.param, directory, simulator=simulator) as running:
        yield running


@pytest.fixture
def account(server: ThreadServer) -> tuple[str, str]:
    """A new account (with its default simulator pool) for one test."""
    return server.new_account()


@pytest.fixture
def api(server: ThreadServer, account: tuple[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a fresh account, on the server's /v1/."""
    with account_client(server, account) as client:
        yield client
