"""The pruner: what is past its retention goes, with everything hanging off it; what is
in flight or recent stays; sending goes on while it works. On both engines."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.connectors.base import Inbound
from opencomms.domain.clock import now_ms
from opencomms.engine.inbound import apply_inbound
from opencomms.engine.pruning import Pruner, RetentionPolicy
from opencomms.store import retention, sinks
from opencomms.store.database import Conn
from tests.events.helpers import delivered_events, make_sink
from tests.support.polling import send, wait_completed, wait_stats, wait_until
from tests.support.retention import DAY_MS, age, count, prune, retention_server, sql
from tests.support.server import ThreadServer

BACKENDS = ["sqlite", "postgresql"]


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    with retention_server(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running


@pytest.fixture
def receiver(httpserver: HTTPServer) -> HTTPServer:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    return httpserver


def phones(count: int, first: int = 1000) -> list[dict[str, str]]:
    return [
        {"address": f"+1415555{n:04d}", "channel": "PHONE"} for n in range(first, first + count)
    ]


def emails(count: int) -> list[dict[str, str]]:
    return [{"address": f"person{n}@example.com", "channel": "EMAIL"} for n in range(count)]


def phone_pool(api: httpx.Client) -> str:
    """A pool without an email sender: email recipients of a send from it are unaddressable."""
    default = api.get("/SenderPools").json()["senderPools"][0]
    response = api.post("/SenderPools", json={"name": "phones", "senders": default["senders"][:3]})
    assert response.status_code == 202, response.text
    pool_id: str = response.json()["id"]
    return pool_id


def later(hours: int = 2) -> dict[str, list[str]]:
    moment = datetime.now(UTC) + timedelta(hours=hours)
    return {"sendAt": [moment.isoformat().replace("+00:00", "Z")]}


OPERATION_ROWS = {
    "messages": "operation_id = ?",
    "attempts": "operation_id = ?",
    "events": "operation_id = ?",
    "unaddressable": "operation_id = ?",
    "operation_callbacks": "operation_id = ?",
    "message_tags": "message_id IN (SELECT id FROM messages WHERE operation_id = ?)",
    "attempt_parts": "attempt_id IN (SELECT id FROM attempts WHERE operation_id = ?)",
}


def rows_of(server: ThreadServer, operation_id: str) -> dict[str, int]:
    """How many rows of each table hang off the operation."""
    return {
        table: count(server, table, where, operation_id) for table, where in OPERATION_ROWS.items()
    }


def long_sms_parts(server: ThreadServer, operation_id: str) -> None:
    """Give each attempt of the operation two parts, as a long SMS over SMPP has."""
    attempts = sql(server, "SELECT id FROM attempts WHERE operation_id = ?", operation_id)
    parts = [(f"operator_a:{a}-{n}", a, n, "DELIVERED") for (a,) in attempts for n in (1, 2)]
    server.call(
        server.runtime.db.write(
            lambda conn: conn.insert_many(
                "attempt_parts", ("provider_message_id", "attempt_id", "part", "status"), parts
            )
        )
    )


def owes(server: ThreadServer, sink_id: str) -> bool:
    """Whether the sink has events still to deliver, as the pruner sees it."""

    async def first_pending(conn: Conn) -> bool:
        sink = await sinks.sink_by_id(conn, sink_id)
        assert sink is not None
        patterns = await sinks.subscription_types(conn, sink_id)
        return bool(await sinks.pending_events(conn, sink, patterns, 1))

    return server.call(server.runtime.db.read(first_pending))


def age_operation(server: ThreadServer, operation_id: str, days: float) -> None:
    age(server, "operations", "updated_at", "id = ?", operation_id, days=days)


def test_an_old_finished_operation_goes_with_everything_that_hung_off_it(
    server: ThreadServer, api: httpx.Client, receiver: HTTPServer
) -> None:
    make_sink(api, receiver.url_for("/hook"))
    body: dict[str, Any] = {
        "to": phones(60) + emails(3),
        "content": {"text": "Hi"},
        "tags": {"campaign": "spring"},
        "from": {"senderPoolId": phone_pool(api)},
        "callbacks": {"url": receiver.url_for("/callback")},
    }
    # one after the other: the newest event, which pruning always keeps, is then `recent`'s
    old = send(api, body)
    wait_stats(api, old, read=60)  # no change comes after
    recent = send(api, body)
    wait_stats(api, recent, read=60)
    for operation_id in (old, recent):
        long_sms_parts(server, operation_id)
    before = rows_of(server, old)
    assert all(before.values()), before  # every kind of row is there to be deleted
    age_operation(server, old, days=31)

    pruned = prune(server)

    assert pruned["operations"] == 1
    assert rows_of(server, old) == dict.fromkeys(OPERATION_ROWS, 0)
    assert count(server, "operations", "id = ?", old) == 0
    for table in ("operation_recipients", "jobs"):
        column = "ref" if table == "jobs" else "operation_id"
        assert count(server, table, f"{column} = ?", old) == 0
    assert rows_of(server, recent) == before  # finished a moment ago: kept
    assert api.get(f"/Messages/Operations/{recent}").status_code == 200


def test_operations_still_sending_stay_however_old(server: ThreadServer, api: httpx.Client) -> None:
    scheduled = send(api, {"to": phones(5), "content": {"text": "Later"}, "schedule": later()})
    wait_until(lambda: count(server, "messages", "operation_id = ?", scheduled) == 5)
    age_operation(server, scheduled, days=90)
    age(server, "operations", "created_at", "id = ?", scheduled, days=90)

    prune(server)

    response = api.get(f"/Messages/Operations/{scheduled}")
    assert response.status_code == 200
    assert response.json()["status"] == "SCHEDULED"
    assert count(server, "messages", "operation_id = ?", scheduled) == 5


def test_sending_goes_on_while_the_pruner_works(server: ThreadServer, api: httpx.Client) -> None:
    old = [send(api, {"to": phones(300), "content": {"text": "Old"}}) for _ in range(3)]
    for operation_id in old:
        wait_stats(api, operation_id, read=300)  # no change comes after
        age_operation(server, operation_id, days=31)
    # small batches with long pauses: the pass lasts well beyond the send below
    pruner = Pruner(server.runtime.db, RetentionPolicy(batch_size=10, pause_s=0.1))

    pass_ = server.submit(pruner.prune(now_ms()))
    fresh = send(api, {"to": phones(20, first=5000), "content": {"text": "New"}})
    completed = wait_completed(api, fresh)
    still_pruning = not pass_.done()
    pruned = pass_.result(timeout=300)

    assert completed["stats"]["delivered"] + completed["stats"]["read"] == 20
    assert still_pruning
    assert pruned["operations"] == 3
    for operation_id in old:
        assert count(server, "messages", "operation_id = ?", operation_id) == 0
    assert count(server, "messages", "operation_id = ?", fresh) == 20


def test_events_go_once_delivered_and_stay_while_a_sink_still_owes_them(
    server: ThreadServer, api: httpx.Client, httpserver: HTTPServer
) -> None:
    answers = {"status": 503}

    def answer(_: Request) -> Response:
        return Response("", status=answers["status"])

    httpserver.expect_request("/hook", method="POST").respond_with_handler(answer)
    sink = make_sink(api, httpserver.url_for("/hook"))
    operation_id = send(api, {"to": phones(3), "content": {"text": "Hi"}})
    wait_stats(api, operation_id, read=3)  # the last event is written
    owner = "account_sid = (SELECT account_sid FROM sinks WHERE id = ?)"
    wait_until(lambda: count(server, "sink_deliveries", "sink_id = ?", sink["id"]))
    written = count(server, "events", owner, sink["id"])
    age(server, "events", "created_at", owner, sink["id"], days=8)

    prune(server)
    kept = count(server, "events", owner, sink["id"])
    answers["status"] = 200
    wait_until(lambda: not owes(server, sink["id"]), timeout=120)
    age(server, "sink_deliveries", "attempted_at", "sink_id = ?", sink["id"], days=8)
    prune(server)

    assert written > 0
    assert kept == written  # undelivered: every one kept, however old
    older = f"{owner} AND seq < (SELECT MAX(seq) FROM events)"  # the newest one stays
    assert count(server, "events", older, sink["id"]) == 0  # delivered and old: gone
    assert count(server, "sink_deliveries", "sink_id = ?", sink["id"]) == 0


def test_old_idempotency_keys_and_inbound_messages_go_but_opt_outs_stay(
    server: ThreadServer, api: httpx.Client
) -> None:
    replies_stop = {"address": "+14155550009", "channel": "PHONE"}  # answers STOP
    response = api.post(
        "/Messages",
        json={"to": [replies_stop], "content": {"text": "Hi"}},
        headers={"Idempotency-Key": "order-1"},
    )
    assert response.status_code == 202
    wait_until(lambda: api.get("/OptOuts").json()["optOuts"])
    mine = "account_sid = (SELECT account_sid FROM operations WHERE id = ?)"
    operation_id = response.json()["operationId"]
    assert count(server, "inbound_messages", mine, operation_id) == 1
    age(server, "idempotency_keys", "created_at", mine, operation_id, days=1.01)
    age(server, "inbound_messages", "received_at", mine, operation_id, days=31)

    prune(server)

    assert count(server, "idempotency_keys", mine, operation_id) == 0
    assert count(server, "inbound_messages", mine, operation_id) == 0
    assert len(api.get("/OptOuts").json()["optOuts"]) == 1


def test_retention_zero_keeps_data_forever(server: ThreadServer, api: httpx.Client) -> None:
    operation_id = send(api, {"to": phones(2), "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    age_operation(server, operation_id, days=3650)
    forever = RetentionPolicy(
        operations_ms=None, events_ms=None, idempotency_keys_ms=None, inbound_ms=None
    )

    pruned = server.call(Pruner(server.runtime.db, forever).prune(now_ms()))

    assert pruned == {}
    assert api.get(f"/Messages/Operations/{operation_id}").status_code == 200
    assert count(server, "messages", "operation_id = ?", operation_id) == 2


def test_old_inbound_messages_that_reached_no_account_go_too(server: ThreadServer) -> None:
    writer = "+14155557777"  # no account ever sent to them: their message reaches none
    to_simulator = Inbound("simulator", "SMS", writer, "+15005550006", "who is this?")
    server.call(server.runtime.db.write(lambda conn: apply_inbound(conn, [to_simulator])))
    nobodys = "account_sid IS NULL AND from_address = ?"
    assert count(server, "inbound_messages", nobodys, writer) == 1
    age(server, "inbound_messages", "received_at", nobodys, writer, days=31)

    prune(server)

    assert count(server, "inbound_messages", nobodys, writer) == 0


def test_a_pass_cut_short_after_retiring_an_operation_is_finished_by_the_next(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id = send(api, {"to": phones(30, first=7000), "content": {"text": "Hi"}})
    wait_stats(api, operation_id, read=30)
    age_operation(server, operation_id, days=36_500)  # the oldest: the first retired
    # the process dies right after the operation was replaced by its record
    server.call(
        server.runtime.db.write(
            lambda conn: retention.retire_operation(conn, now_ms() - 30 * DAY_MS, now_ms())
        )
    )
    record = "SELECT cleared FROM pruned_operations WHERE id = ?"
    cut_short = sql(server, record, operation_id)
    left = count(server, "messages", "operation_id = ?", operation_id)

    prune(server)

    assert (cut_short, left) == ([(0,)], 30)
    assert api.get(f"/Messages/Operations/{operation_id}").status_code == 404
    assert rows_of(server, operation_id) == dict.fromkeys(OPERATION_ROWS, 0)
    assert sql(server, record, operation_id) == [(1,)]


@pytest.mark.parametrize("backend", BACKENDS)
def test_a_sink_gets_new_events_after_every_old_one_was_pruned(
    backend: str, tmp_path: Path, receiver: HTTPServer
) -> None:
    """On SQLite an emptied outbox would number its next events from 1 again, behind the
    sink's cursor: the pruner always leaves the newest event."""
    with retention_server(backend, tmp_path) as alone:  # its outbox holds only this test's
        api = httpx.Client(base_url=alone.url + "/v1", auth=alone.new_account())
        make_sink(api, receiver.url_for("/hook"))
        first = send(api, {"to": phones(2), "content": {"text": "Hi"}})
        wait_stats(api, first, read=2)
        sink_id = sql(alone, "SELECT id FROM sinks")[0][0]
        wait_until(
            lambda: count(alone, "events", "operation_id = ?", first) and not owes(alone, sink_id)
        )
        age(alone, "events", "created_at", "1 = 1", days=8)
        prune(alone)

        second = send(api, {"to": phones(2, first=3000), "content": {"text": "Again"}})

        wait_until(
            lambda: second in {e["data"]["operation_id"] for e in delivered_events(receiver)}
        )
        assert count(alone, "events", "operation_id = ?", first) <= 1
        api.close()
