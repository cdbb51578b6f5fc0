"""Webhook secrets are stored sealed with the server's key, like the auth token: the
database holds none of them in the clear, and every signature still verifies."""

from __future__ import annotations

from typing import Any

import httpx
from pytest_httpserver import HTTPServer

from opencomms.store.database import Conn
from tests.events.helpers import (
    assert_signed,
    delivered_events,
    make_sink,
    posted_batches,
    wait_for_events,
)
from tests.support.polling import send, wait_completed, wait_until
from tests.support.server import ThreadServer


def _stored_rows(server: ThreadServer, account_sid: str) -> list[tuple[Any, ...]]:
    """Every column of the account's row and of its sinks, as the database holds them."""

    async def read(conn: Conn) -> list[tuple[Any, ...]]:
        rows = await conn.fetch("SELECT * FROM accounts WHERE sid = ?", account_sid)
        rows += await conn.fetch("SELECT * FROM sinks WHERE account_sid = ?", account_sid)
        return [tuple(row) for row in rows]

    return server.call(server.runtime.db.read(read))


def test_no_webhook_secret_is_stored_in_the_clear_and_signatures_verify(
    server: ThreadServer, api: httpx.Client, account: tuple[str, str], httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    httpserver.expect_request("/callback", method="POST").respond_with_data("ok")
    sink = make_sink(api, httpserver.url_for("/hook"))
    account_secret = api.get("/Account").json()["webhookSecret"]
    operation_id = send(
        api,
        {
            "to": [{"address": "+14155550100", "channel": "PHONE"}],
            "content": {"text": "Hi"},
            "callbacks": {"url": httpserver.url_for("/callback")},
        },
    )
    wait_completed(api, operation_id)
    wait_for_events(httpserver, 6)
    wait_until(lambda: len(delivered_events(httpserver, "/callback")) >= 6)

    stored = repr(_stored_rows(server, account[0]))

    for secret in (sink["secret"], account_secret):
        assert secret.startswith("whsec_")
        assert secret not in stored
        assert secret.removeprefix("whsec_") not in stored  # nor the key it encodes
    assert account[1] not in stored
    assert posted_batches(httpserver, "/hook") and posted_batches(httpserver, "/callback")
    for request, _ in posted_batches(httpserver, "/hook"):
        assert_signed(request, account[1], sink["secret"])
    for request, _ in posted_batches(httpserver, "/callback"):
        assert_signed(request, account[1], account_secret)


def test_the_account_secret_reads_the_same_every_time(api: httpx.Client) -> None:
    first = api.get("/Account").json()["webhookSecret"]

    assert api.get("/Account").json()["webhookSecret"] == first
