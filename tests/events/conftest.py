"""A new webhook receiver for every test: the suite's server is shared, and sinks of
earlier tests would otherwise keep posting to the same address."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def httpserver() -> Iterator[HTTPServer]:
    server = HTTPServer(host="localhost", port=0)
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
