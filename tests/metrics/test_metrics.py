"""`/metrics`: a scrape before and after a real send shows the figures moving (both
engines); with `[server] metrics_token` set, a scrape without the token is refused."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from opencomms.settings import ServerSettings, Settings
from tests.support.databases import database_url
from tests.support.polling import wait_completed
from tests.support.server import ThreadServer

SEND = {
    "to": [
        {"address": "+14155550100", "channel": "PHONE"},
        {"address": "+14155550101", "channel": "PHONE"},
    ],
    "content": {"text": "Hi"},
}
Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str, token: str | None = None) -> Samples:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    answer = httpx.get(url + "/metrics", headers=headers)
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/plain")
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(answer.text)
        for sample in family.samples
    }


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum of `name`'s samples whose labels include `labels`."""
    wanted = set(labels.items())
    return sum(value for (key, got), value in samples.items() if key == name and wanted <= got)


def test_a_send_moves_the_figures(server: ThreadServer, api: httpx.Client) -> None:
    before = scrape(server.url)
    sent = api.post("/Messages", json=SEND)
    assert sent.status_code == 202, sent.text
    during = scrape(server.url)
    assert total(during, "opencomms_queue_backlog") >= 0
    assert "opencomms_queue_oldest_due_seconds" in {name for name, _ in during}
    wait_completed(api, sent.json()["operationId"])
    after = scrape(server.url)

    def moved(name: str, **labels: str) -> float:
        return total(after, name, **labels) - total(before, name, **labels)

    assert moved("opencomms_messages_accepted_total") == 2
    post = {"method": "POST", "route": "/v1/Messages", "status": "202"}
    assert moved("opencomms_http_requests_total", **post) == 1
    assert moved("opencomms_attempts_total", connector="simulator", outcome="DELIVERED") == 2
    assert moved("opencomms_submit_seconds_count", connector="simulator") >= 1
    assert moved("opencomms_receipt_seconds_count", connector="simulator") == 2
    assert moved("opencomms_database_seconds_count", mode="write") >= 3
    assert moved("opencomms_database_seconds_count", mode="read") >= 1


def test_a_refused_request_counts_under_its_route(server: ThreadServer) -> None:
    before = scrape(server.url)
    assert httpx.get(server.url + "/v1/Senders").status_code == 401
    after = scrape(server.url)
    labels = {"method": "GET", "route": "/v1/Senders", "status": "401"}
    name = "opencomms_http_requests_total"
    assert total(after, name, **labels) - total(before, name, **labels) == 1


@pytest.fixture
def guarded(tmp_path: Path) -> Iterator[ThreadServer]:
    with database_url("sqlite", str(tmp_path)) as url:
        settings = ServerSettings(
            database_url=url,
            secret_key_file=str(tmp_path / "opencomms.key"),
            metrics_token="scrape-me",
        )
        running = ThreadServer(Settings(server=settings)).start()
        try:
            yield running
        finally:
            running.stop()


def test_the_token_is_enforced_when_set(guarded: ThreadServer) -> None:
    for headers in ({}, {"Authorization": "Bearer wrong"}, {"Authorization": "scrape-me"}):
        refused = httpx.get(guarded.url + "/metrics", headers=headers)
        assert refused.status_code == 401, headers
        assert refused.json()["status"] == 401
    assert "opencomms_queue_backlog" in {name for name, _ in scrape(guarded.url, "scrape-me")}
