"""`/webhooks/{connector}` on the real app: found by connector name, no Basic auth, the
request handed over as received (lower-case header names, the URL the provider called),
the body bounded, and a connector that fails answered 503 (the provider retries), never 500.

The connector behind the route is a small recording receiver: the route is the unit
under test here; the real connectors' webhooks are tested with their own peers.
"""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.api.provider_webhooks import STATE_KEY, ProviderWebhooks
from opencomms.connectors.base import WebhookAnswer, WebhookRequest
from opencomms.settings import ServerSettings, Settings
from opencomms.store.errors import StoreUnavailable
from tests.api.test_errors import assert_error
from tests.support.databases import database_url
from tests.support.server import ThreadServer
from tests.support.webhook_host import hosting_webhooks


class RecordingReceiver:
    """A connector that takes webhooks: records each request, answers `answer` (or raises
    `failure`)."""

    def __init__(self, failure: Exception | None = None) -> None:
        self.requests: list[WebhookRequest] = []
        self.failure = failure
        self.answer = WebhookAnswer(200, b'{"ok":true}', "application/json")

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        if self.failure is not None:
            raise self.failure
        self.requests.append(request)
        return self.answer


def _hosted(server: ThreadServer) -> ProviderWebhooks:
    hosted: ProviderWebhooks = server.app.state[STATE_KEY]
    return hosted


@pytest.fixture
def receiver(server: ThreadServer) -> Iterator[tuple[str, RecordingReceiver]]:
    """A recording receiver hosted on the shared server under a fresh name."""
    name = f"fake-{uuid.uuid4().hex[:8]}"
    hosted = RecordingReceiver()
    connectors = _hosted(server).connectors
    connectors[name] = hosted  # type: ignore[index]
    yield name, hosted
    del connectors[name]  # type: ignore[attr-defined]


def test_the_named_connector_gets_the_request_without_basic_auth(
    server: ThreadServer, receiver: tuple[str, RecordingReceiver]
) -> None:
    name, hosted = receiver
    response = httpx.post(
        f"{server.url}/webhooks/{name}?a=1&b=two",
        content=b'{"event":"DELIVERED"}',
        headers={"X-Goog-Signature": "c2lnbmF0dXJl", "Content-Type": "application/json"},
    )
    assert response.status_code == 200
    assert response.content == b'{"ok":true}'
    assert response.headers["content-type"].startswith("application/json")
    [request] = hosted.requests
    assert request.method == "POST"
    assert request.body == b'{"event":"DELIVERED"}'
    assert request.query == {"a": "1", "b": "two"}
    assert request.headers["x-goog-signature"] == "c2lnbmF0dXJl"
    assert all(key == key.lower() for key in request.headers)
    assert request.url == f"{server.url}/webhooks/{name}?a=1&b=two"


def test_a_handshake_get_is_answered_as_the_connector_says(
    server: ThreadServer, receiver: tuple[str, RecordingReceiver]
) -> None:
    name, hosted = receiver
    hosted.answer = WebhookAnswer(200, b"1158201444", "text/plain")
    response = httpx.get(
        f"{server.url}/webhooks/{name}",
        params={"hub.mode": "subscribe", "hub.challenge": "1158201444"},
    )
    assert response.status_code == 200
    assert response.text == "1158201444"
    assert response.headers["content-type"].startswith("text/plain")
    [request] = hosted.requests
    assert request.method == "GET"
    assert request.query["hub.challenge"] == "1158201444"
    assert request.body == b""


def test_a_refusal_of_the_connector_is_passed_on(
    server: ThreadServer, receiver: tuple[str, RecordingReceiver]
) -> None:
    name, hosted = receiver
    hosted.answer = WebhookAnswer(401, b"bad signature")
    response = httpx.post(f"{server.url}/webhooks/{name}", content=b"{}")
    assert response.status_code == 401
    assert response.text == "bad signature"


def test_an_unknown_connector_is_404(server: ThreadServer) -> None:
    response = httpx.post(f"{server.url}/webhooks/no-such-connector", content=b"{}")
    assert_error(response, 404)


def test_a_connector_without_webhooks_is_404(server: ThreadServer) -> None:
    assert "simulator" in _hosted(server).connectors
    assert_error(httpx.post(f"{server.url}/webhooks/simulator", content=b"{}"), 404)
    assert_error(httpx.get(f"{server.url}/webhooks/simulator"), 404)


def test_other_methods_are_405(
    server: ThreadServer, receiver: tuple[str, RecordingReceiver]
) -> None:
    name, hosted = receiver
    assert_error(httpx.put(f"{server.url}/webhooks/{name}", content=b"{}"), 405)
    assert hosted.requests == []


def test_an_oversize_body_is_413_and_not_handed_over(
    server: ThreadServer, receiver: tuple[str, RecordingReceiver]
) -> None:
    name, hosted = receiver
    limit = server.settings.http.max_body_bytes
    response = httpx.post(f"{server.url}/webhooks/{name}", content=b"x" * (limit + 1))
    assert_error(response, 413)
    assert hosted.requests == []
    at_limit = httpx.post(f"{server.url}/webhooks/{name}", content=b"x" * limit)
    assert at_limit.status_code == 200
    assert len(hosted.requests[0].body) == limit


@pytest.mark.parametrize(
    "failure", [StoreUnavailable("disk full"), RuntimeError("a bug")], ids=["store", "bug"]
)
def test_a_failing_connector_is_503_with_retry_after(
    server: ThreadServer, failure: Exception, caplog: pytest.LogCaptureFixture
) -> None:
    name = f"failing-{uuid.uuid4().hex[:8]}"
    connectors = _hosted(server).connectors
    connectors[name] = RecordingReceiver(failure)  # type: ignore[index]
    try:
        response = httpx.post(f"{server.url}/webhooks/{name}", content=b"{}")
    finally:
        del connectors[name]  # type: ignore[attr-defined]
    assert_error(response, 503)
    assert int(response.headers["retry-after"]) >= 1


def test_the_url_is_the_public_one_when_the_server_has_one(tmp_path: Path) -> None:
    public = "https://comms.example.com/base"
    with database_url("sqlite", str(tmp_path)) as url:
        settings = Settings(
            server=ServerSettings(
                database_url=url,
                secret_key_file=str(tmp_path / "opencomms.key"),
                public_url=public + "/",
            )
        )
        running = ThreadServer(settings).start()
        try:
            hosted = RecordingReceiver()
            _hosted(running).connectors["rcs"] = hosted  # type: ignore[index]
            response = httpx.post(f"{running.url}/webhooks/rcs?x=%2F1", content=b"{}")
        finally:
            running.stop()
    assert response.status_code == 200
    assert hosted.requests[0].url == f"{public}/webhooks/rcs?x=%2F1"
    assert hosted.requests[0].query == {"x": "/1"}


def test_hosting_webhooks_serves_the_same_route() -> None:
    async def scenario() -> None:
        hosted = RecordingReceiver()
        async with (
            hosting_webhooks(
                {"wa": hosted, "plain": object()}, public_url="https://x.example"
            ) as base_url,
            httpx.AsyncClient() as client,
        ):
            ok = await client.post(
                f"{base_url}/webhooks/wa?q=1", content=b"{}", headers={"X-Hub-A": "b"}
            )
            plain = await client.post(f"{base_url}/webhooks/plain", content=b"{}")
            big = await client.post(f"{base_url}/webhooks/wa", content=b"x" * 70_000)
        assert ok.status_code == 200
        assert_error(plain, 404)
        assert_error(big, 413)
        [request] = hosted.requests
        assert request.url == "https://x.example/webhooks/wa?q=1"
        assert request.headers["x-hub-a"] == "b"

    asyncio.run(scenario())
