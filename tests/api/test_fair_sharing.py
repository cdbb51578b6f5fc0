"""Fair sharing: a send started after a large campaign on the same capped sender does
not wait for the campaign to finish."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.settings import ServerSettings, Settings, SimulatorSettings
from tests.support.databases import database_url
from tests.support.polling import operation, send, wait_completed, wait_until
from tests.support.server import ThreadServer

CAMPAIGN = 2_000
THROUGHPUT = 200  # messages a second per sender: the campaign takes 10 s


@pytest.fixture(params=["sqlite", "postgresql"])
def capped(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[httpx.Client]:
    with database_url(request.param, str(tmp_path)) as url:
        settings = Settings(
            server=ServerSettings(database_url=url, secret_key_file=str(tmp_path / "key")),
            simulator=SimulatorSettings(throughput=THROUGHPUT, receipt_latency_ms=[0, 5]),
        )
        server = ThreadServer(settings).start()
        try:
            auth = server.new_account()
            with httpx.Client(base_url=server.url + "/v1", auth=auth, timeout=30) as client:
                yield client
        finally:
            server.stop()


def phones(count: int, first: int) -> list[dict[str, str]]:
    return [
        {"address": f"+1415{n // 9000:03d}{1000 + n % 9000:04d}", "channel": "PHONE"}
        for n in range(first, first + count)
    ]


def test_a_single_send_overtakes_a_running_campaign(capped: httpx.Client) -> None:
    campaign = send(capped, {"to": phones(CAMPAIGN, 0), "content": {"text": "Sale"}})
    wait_until(lambda: operation(capped, campaign)["stats"]["sent"] > 0)

    single = send(capped, {"to": phones(1, CAMPAIGN), "content": {"text": "Your code: 1234"}})
    wait_completed(capped, single)

    progress = operation(capped, campaign)
    assert progress["status"] == "PROCESSING"
    assert progress["stats"]["queued"] > CAMPAIGN // 4, progress["stats"]
    wait_completed(capped, campaign)
