"""The bench's `/metrics` hook: a bench server scraped at start and before it stops
saves the figures that moved in between (a real server process, a real send)."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from bench.server import ServerProcess, fresh_database

SEND = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}


def test_a_bench_server_saves_the_figures_that_moved(tmp_path: Path) -> None:
    with fresh_database("sqlite", tmp_path) as url, ServerProcess(url, tmp_path) as server:
        auth = server.credentials.auth
        answer = httpx.post(server.url + "/v1/Messages", json=SEND, auth=auth, timeout=30)
        assert answer.status_code == 202, answer.text
        port = server.port
    saved = json.loads((tmp_path / f"metrics-{port}.json").read_text())
    assert saved["moved"]["opencomms_messages_accepted_total"] == 1
    assert saved["moved"]["opencomms_http_requests_total"] >= 1
    assert saved["after"]["opencomms_database_seconds_count"] > 0
