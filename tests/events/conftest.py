"""A new webhook receiver for every test: the suite's server is shared, and sinks of
earlier tests would otherwise keep posting to the same address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from opencomms.settings import SinkSettings
from tests.conftest import BACKENDS
from tests.support.server import ThreadServer, account_client, running_server


@pytest.fixture
def httpserver() -> Iterator[HTTPServer]:
    server = HTTPServer(host="localhost", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()


LIMITS = SinkSettings(max_per_account=3, delivery_timeout="2s", callback_expiry="1s")


@pytest.fixture(scope="session", params=BACKENDS)
def limited_server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    """A server with small `[sinks]` limits (LIMITS), one per backend."""
    directory = tmp_path_factory.mktemp(f"limited-{request.param}")
    with running_server(request.param, directory, sinks=LIMITS) as running:
        yield running


@pytest.fixture
def limited_api(limited_server: ThreadServer) -> Iterator[httpx.Client]:
    """A fresh account on the limited server."""
    with account_client(limited_server) as client:
        yield client
