"""Receiving status callbacks in tests: a real HTTP receiver (pytest-httpserver)."""

from __future__ import annotations

import collections
import json
from typing import Any

import httpx
from pytest_httpserver import HTTPServer
from standardwebhooks import Webhook
from twilio.request_validator import RequestValidator

from tests.support.polling import wait_until

ALL_TYPES = ["com.twilio.comms-api.message.*", "com.twilio.comms-api.operation.*"]


def make_sink(api: httpx.Client, url: str, types: list[str] | None = None) -> dict[str, Any]:
    """A sink at `url` subscribed to `types` (every type by default); its 201 body."""
    response = api.post("/Sinks", json={"url": url, "description": "test receiver"})
    assert response.status_code == 201, response.text
    sink: dict[str, Any] = response.json()
    subscription = api.post(
        "/Subscriptions", json={"sinkId": sink["id"], "types": types or ALL_TYPES}
    )
    assert subscription.status_code == 201, subscription.text
    return sink


def posted_batches(receiver: HTTPServer, path: str = "/hook") -> list[tuple[Any, Any]]:
    """(request, response) of every POST the receiver got on `path`, in order."""
    return [(req, res) for req, res in receiver.log if req.path == path]


def delivered_events(receiver: HTTPServer, path: str = "/hook") -> list[dict[str, Any]]:
    """Every event of every batch answered 2xx, in order of arrival."""
    events: list[dict[str, Any]] = []
    for request, response in posted_batches(receiver, path):
        if 200 <= response.status_code < 300:
            events += json.loads(request.get_data())
    return events


def assert_signed(request: Any, auth_token: str, webhook_secret: str) -> None:
    """Both signatures of one delivery verify with the reference libraries."""
    body = request.get_data()
    assert RequestValidator(auth_token).validate(
        request.url, body.decode(), request.headers["X-Twilio-Signature"]
    ), request.url
    Webhook(webhook_secret).verify(body, dict(request.headers))


def wait_for_events(receiver: HTTPServer, count: int, timeout: float = 60) -> list[dict[str, Any]]:
    """The distinct events delivered, once `count` have arrived (and no more than that).

    Delivery is at least once: a batch whose answer was lost is sent again with the same
    event ids, so events are told apart by id.
    """

    def arrived() -> list[dict[str, Any]] | None:
        distinct = list({e["id"]: e for e in delivered_events(receiver)}.values())
        return distinct if len(distinct) >= count else None

    events: list[dict[str, Any]] = wait_until(arrived, timeout)
    assert len(events) == count, collections.Counter(e["type"] for e in events)
    return events
