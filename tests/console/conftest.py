"""A webhook receiver per test (a sink's deliveries to replay), as tests/events has."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from pytest_httpserver import HTTPServer


@pytest.fixture
def receiver() -> Iterator[HTTPServer]:
    server = HTTPServer(host="127.0.0.1", port=0, threaded=True)
    server.expect_request("/hook", method="POST").respond_with_data("ok")
    server.start()
    try:
        yield server
    finally:
        server.clear()
        server.stop()
