"""A new webhook receiver for every test: the suite's server is shared, and sinks of
earlier tests would otherwise keep posting to the same address."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from pytest_httpserver import HTTPServer

from opencomms.settings import ServerSettings, Settings, SinkSettings
from tests.conftest import BACKENDS
from tests.support.databases import database_url
from tests.support.server import ThreadServer


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
    with database_url(request.param, str(directory)) as url:
        settings = Settings(
            server=ServerSettings(
                database_url=url,
                secret_key_file=str(directory / "opencomms.key"),
                allowed_callback_networks=["127.0.0.0/8", "::1/128"],
            ),
            sinks=LIMITS,
        )
        running = ThreadServer(settings).start()
        try:
            yield running
        finally:
            running.stop()


@pytest.fixture
def limited_api(limited_server: ThreadServer) -> Iterator[httpx.Client]:
    """A fresh account on the limited server."""
    auth = limited_server.new_account()
    with httpx.Client(base_url=limited_server.url + "/v1", auth=auth, timeout=30) as client:
        yield client
