"""Fixtures: every API test runs against a real server on SQLite and on PostgreSQL."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from opencomms.settings import ServerSettings, Settings, SimulatorSettings
from tests.support.databases import database_url
from tests.support.server import ThreadServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="session", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """One running server per backend, shared by the session; tests isolate by account."""
    directory = tmp_path_factory.mktemp(f"server-{request.param}")
    with database_url(request.param, str(directory)) as url:
        settings = Settings(
            server=ServerSettings(
                database_url=url,
                secret_key_file=str(directory / "opencomms.key"),
                # the tests' webhook receivers listen on loopback
                allowed_callback_networks=["127.0.0.0/8", "::1/128"],
            ),
            simulator=SimulatorSettings(
                receipt_latency_ms=[0, 5],
                submit_log=str(directory / "submits.jsonl"),
                fallback_timeout="400ms",
                receipt_wait="800ms",
            ),
        )
        running = ThreadServer(settings).start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def account(server: ThreadServer) -> tuple[str, str]:
    """A new account (with its default simulator pool) for one test."""
    return server.new_account()


@pytest.fixture
def api(server: ThreadServer, account: tuple[str, str]) -> Iterator[httpx.Client]:
    """An HTTP client authenticated as a fresh account, on the server's /v1/."""
    with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as client:
        yield client
