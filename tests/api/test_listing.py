"""Reading back: the Message list (filters, keyset pages), a Message, operations and stats."""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from opencomms.domain.clock import iso, now_ms
from opencomms.settings import ServerSettings, Settings, SimulatorSettings
from tests.support.databases import ADMIN_URL, _admin, _with_database, require_postgres
from tests.support.polling import (
    BUCKETS,
    all_messages,
    assert_stats_consistent,
    send,
    wait_completed,
    wait_until,
)
from tests.support.server import ThreadServer

MESSAGE_ID = re.compile(r"^comms_message_[0-7][0-9a-hjkmnp-tv-z]{25}$")
SENDER_ID = re.compile(r"^comms_sender_[0-7][0-9a-hjkmnp-tv-z]{25}$")
ATTEMPT_ID = re.compile(r"^SM[0-9a-f]{32}$")
DATE_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?Z$")
STAT_KEYS = {
    "total",
    "recipients",
    "attempts",
    "unaddressable",
    "queued",
    "sent",
    "scheduled",
    "delivered",
    "read",
    "undelivered",
    "failed",
    "canceled",
}


def phone(ending: str | int) -> dict[str, str]:
    return {"address": f"+1415555{int(ending):04d}", "channel": "PHONE"}


def ok(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def walk(
    api: httpx.Client, path: str, key: str, **params: Any
) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Every item of a paginated list, following `pagination.next`; also every page."""
    items: list[dict[str, Any]] = []
    pages: list[dict[str, Any]] = []
    query = dict(params)
    while True:
        page = ok(api.get(path, params=query))
        pages.append(page)
        items += page[key]
        assert len(pages) < 1_000, "pagination does not end"
        if page["pagination"]["next"] is None:
            return items, pages
        query["pageToken"] = page["pagination"]["next"]


def ids(items: list[dict[str, Any]]) -> list[str]:
    return [item["id"] for item in items]


def wait_read(api: httpx.Client, operation_id: str, count: int) -> None:
    """Wait until COMPLETED and `count` READ: a READ receipt may follow completion."""

    def done() -> bool:
        body = wait_completed(api, operation_id)
        return bool(body["stats"]["read"] == count)

    wait_until(done)


def a_moment_between() -> int:
    """A millisecond after everything created so far and before anything created next."""
    moment = now_ms() + 1
    wait_until(lambda: now_ms() > moment, timeout=5, interval=0.001)
    return moment


# --- GET /v1/Messages: pages ----------------------------------------------------------


def test_pages_of_seven_walk_120_messages_exactly_once_newest_first(api: httpx.Client) -> None:
    first = send(api, {"to": [phone(n) for n in range(100, 220)], "content": {"text": "Hi"}})
    other = send(api, {"to": [phone(n) for n in range(300, 310)], "content": {"text": "Hi"}})
    wait_completed(api, first)
    wait_completed(api, other)

    messages, pages = walk(api, "/Messages", "messages", operationId=first, pageSize=7)

    assert len(pages) == 18  # 17 full pages of 7, then 1
    assert [len(p["messages"]) for p in pages] == [7] * 17 + [1]
    assert len(messages) == 120
    assert len(set(ids(messages))) == 120
    assert {m["to"][0]["address"] for m in messages} == {
        phone(n)["address"] for n in range(100, 220)
    }
    assert all(m["related"][0]["id"] == first for m in messages)
    assert ids(messages) == sorted(ids(messages), reverse=True)
    created = [m["createdAt"] for m in messages]
    assert created == sorted(created, reverse=True)
    assert all(p["pagination"]["next"] for p in pages[:-1])
    assert pages[-1]["pagination"]["next"] is None
    assert all(isinstance(p["pagination"]["self"], str) for p in pages)
    assert pages[1]["pagination"]["self"] == pages[0]["pagination"]["next"]


def test_an_unfiltered_walk_sees_every_message_of_the_account(api: httpx.Client) -> None:
    first = send(api, {"to": [phone(n) for n in range(100, 140)], "content": {"text": "Hi"}})
    second = send(api, {"to": [phone(n) for n in range(140, 153)], "content": {"text": "Hi"}})
    wait_completed(api, first)
    wait_completed(api, second)

    messages, _ = walk(api, "/Messages", "messages", pageSize=7)

    assert len(messages) == 53
    assert len(set(ids(messages))) == 53
    by_operation = [m["related"][0]["id"] for m in messages]
    # newest first: every Message of the second operation comes before the first's
    assert by_operation == [second] * 13 + [first] * 40


def test_a_token_from_a_filtered_list_continues_that_list(api: httpx.Client) -> None:
    tagged = {"tags": {"group": "{{group}}"}, "content": {"text": "Hi"}}
    recipients = [
        {**phone(n), "variables": {"group": "odd" if n % 2 else "even"}} for n in range(100, 130)
    ]
    operation_id = send(api, {**tagged, "to": recipients})
    wait_completed(api, operation_id)
    query = {"operation_id": operation_id, "tags": "group:odd;", "pageSize": 4}

    messages, pages = walk(api, "/Messages", "messages", **query)

    assert len(pages) == 4
    assert len(messages) == 15
    assert len(set(ids(messages))) == 15
    assert all(int(m["to"][0]["address"][-4:]) % 2 == 1 for m in messages)
    assert all(m["tags"] == {"group": "odd"} for m in messages)


def test_page_size_defaults_to_50_and_accepts_1_to_1000(api: httpx.Client) -> None:
    operation_id = send(api, {"to": [phone(n) for n in range(100, 160)], "content": {"text": "x"}})
    wait_completed(api, operation_id)

    default = ok(api.get("/Messages"))
    assert len(default["messages"]) == 50
    assert default["pagination"]["next"] is not None
    assert len(ok(api.get("/Messages", params={"pageSize": 1}))["messages"]) == 1
    biggest = ok(api.get("/Messages", params={"pageSize": 1000}))
    assert len(biggest["messages"]) == 60
    assert biggest["pagination"]["next"] is None
    for bad in ("0", "1001", "-1", "ten", "2.5"):
        response = api.get("/Messages", params={"pageSize": bad})
        assert response.status_code == 400, bad
        assert response.json()["errors"][0]["field"] == "pageSize"
    response = api.get("/Messages", params={"pageToken": "not-a-token"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "pageToken"


def test_an_account_without_messages_lists_an_empty_last_page(api: httpx.Client) -> None:
    page = ok(api.get("/Messages"))

    assert page["messages"] == []
    assert page["pagination"]["next"] is None
    assert "self" in page["pagination"]


# --- GET /v1/Messages: filters --------------------------------------------------------


def outcomes_operation(api: httpx.Client) -> str:
    """One operation whose Messages end on every channel and in several statuses."""
    to = [
        phone("0100"),  # RCS, READ
        phone("0008"),  # RCS, DELIVERED (never read)
        phone("0001"),  # RCS fails, WHATSAPP READ
        phone("0003"),  # RCS and WHATSAPP fail, SMS DELIVERED
        phone("0005"),  # every phone channel fails: SMS FAILED
        {"address": "ada@example.com", "channel": "EMAIL"},  # EMAIL, DELIVERED
    ]
    operation_id = send(api, {"to": to, "content": {"text": "Hi"}})
    wait_read(api, operation_id, 2)
    return operation_id


def endings(messages: list[dict[str, Any]]) -> set[str]:
    return {m["to"][0]["address"].split("@")[0][-4:] for m in messages}


def test_the_channel_filter_matches_the_channel_of_the_last_attempt(api: httpx.Client) -> None:
    operation_id = outcomes_operation(api)
    assert len(all_messages(api)) == 6

    assert endings(all_messages(api, channel="RCS")) == {"0100", "0008"}
    assert endings(all_messages(api, channel="WHATSAPP")) == {"0001"}
    assert endings(all_messages(api, channel="SMS")) == {"0003", "0005"}
    assert endings(all_messages(api, channel="EMAIL")) == {"ada"}
    assert endings(all_messages(api, channel="sms", operationId=operation_id)) == {"0003", "0005"}
    for message in all_messages(api, channel="SMS"):
        assert message["from"]["channel"] == "SMS"
    response = api.get("/Messages", params={"channel": "PIGEON"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "channel"


def test_the_status_filter_and_its_combination_with_channel(api: httpx.Client) -> None:
    outcomes_operation(api)

    assert endings(all_messages(api, status="READ")) == {"0100", "0001"}
    assert endings(all_messages(api, status="DELIVERED")) == {"0008", "0003", "ada"}
    assert endings(all_messages(api, status="failed")) == {"0005"}
    assert all_messages(api, status="QUEUED") == []
    assert endings(all_messages(api, status="DELIVERED", channel="SMS")) == {"0003"}
    assert endings(all_messages(api, status="DELIVERED", channel="RCS")) == {"0008"}
    assert all_messages(api, status="FAILED", channel="RCS") == []
    response = api.get("/Messages", params={"status": "LOST", "channel": "FAX"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"status", "channel"}


def test_the_tags_filter_requires_every_pair(api: httpx.Client) -> None:
    recipients = [
        {**phone(n), "variables": {"team": "red" if n < 110 else "blue"}} for n in range(100, 120)
    ]
    operation_id = send(
        api,
        {
            "to": recipients,
            "content": {"text": "Hi"},
            "tags": {"team": "{{team}}", "campaign": "spring-2024"},
        },
    )
    wait_read(api, operation_id, 20)

    red = all_messages(api, tags="team:red;")
    assert len(red) == 10
    assert all(m["tags"] == {"team": "red", "campaign": "spring-2024"} for m in red)
    assert len(all_messages(api, tags="team:red;campaign:spring-2024;")) == 10
    assert len(all_messages(api, tags="campaign:spring-2024")) == 20
    assert all_messages(api, tags="team:red;campaign:autumn;") == []
    assert all_messages(api, tags="team:green;") == []
    assert len(all_messages(api, tags="team:blue;", operationId=operation_id, status="READ")) == 10
    response = api.get("/Messages", params={"tags": "team"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "tags"


def test_start_and_end_dates_bound_the_creation_time(api: httpx.Client) -> None:
    early = send(api, {"to": [phone(n) for n in range(100, 105)], "content": {"text": "1"}})
    wait_completed(api, early)
    boundary = a_moment_between()
    late = send(api, {"to": [phone(n) for n in range(105, 112)], "content": {"text": "2"}})
    wait_completed(api, late)
    after_all = a_moment_between()

    def operations_of(**params: Any) -> list[str]:
        return [m["related"][0]["id"] for m in all_messages(api, **params)]

    assert operations_of(startDate=iso(boundary)) == [late] * 7
    assert operations_of(endDate=iso(boundary)) == [early] * 5
    assert operations_of(startDate=iso(boundary), endDate=iso(after_all)) == [late] * 7
    assert operations_of(startDate=iso(after_all)) == []
    assert operations_of(endDate=iso(boundary), operationId=late) == []
    # pages inside a date window
    window, pages = walk(api, "/Messages", "messages", startDate=iso(boundary), pageSize=3)
    assert len(window) == 7
    assert len(set(ids(window))) == 7
    assert len(pages) == 3
    response = api.get("/Messages", params={"startDate": "yesterday"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "startDate"
    response = api.get("/Messages", params={"startDate": iso(after_all), "endDate": iso(boundary)})
    assert response.status_code == 400


def test_the_list_never_shows_another_accounts_messages(
    api: httpx.Client, server: ThreadServer
) -> None:
    mine = send(api, {"to": [phone(n) for n in range(100, 103)], "content": {"text": "mine"}})
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as other:
        theirs = send(other, {"to": [phone(n) for n in range(100, 104)], "content": {"text": "x"}})
        wait_completed(other, theirs)
        wait_completed(api, mine)

        assert {m["related"][0]["id"] for m in all_messages(api)} == {mine}
        assert all_messages(api, operationId=theirs) == []
        assert {m["related"][0]["id"] for m in all_messages(other)} == {theirs}


# --- GET /v1/Messages/{id} ------------------------------------------------------------


def test_a_fetched_message_has_the_contract_fields_and_its_attempts(
    api: httpx.Client,
) -> None:
    pool = ok(api.get("/SenderPools"))["senderPools"][0]
    rcs_id, whatsapp_id = pool["senders"][0], pool["senders"][1]
    operation_id = send(
        api,
        {
            "to": [{**phone("0001"), "variables": {"name": "Fred"}}],
            "content": {"text": "Hello {{name}}!"},
            "tags": {"kind": "welcome"},
        },
    )
    wait_read(api, operation_id, 1)
    (listed,) = all_messages(api, operationId=operation_id)

    message = ok(api.get(f"/Messages/{listed['id']}"))

    assert MESSAGE_ID.match(message["id"])
    assert message["id"] == listed["id"]
    assert message["status"] == "READ"
    assert message["from"] == {
        "address": "+15005550006",
        "channel": "WHATSAPP",
        "senderId": whatsapp_id,
    }
    assert message["to"] == [{"address": "+14155550001", "channel": "PHONE", "contactId": None}]
    assert message["related"] == [
        {
            "name": "operation",
            "id": operation_id,
            "uri": f"/v1/Messages/Operations/{operation_id}",
        }
    ]
    assert message["tags"] == {"kind": "welcome"}
    assert message["scheduledFor"] is None
    assert message["deletedAt"] is None
    assert DATE_TIME.match(message["createdAt"])
    assert DATE_TIME.match(message["updatedAt"])
    assert message["updatedAt"] >= message["createdAt"]
    assert message["content"] == {"text": "Hello Fred!"}
    failed, read = message["attempts"]
    assert ATTEMPT_ID.match(failed["id"])
    assert ATTEMPT_ID.match(read["id"])
    assert failed["id"] != read["id"]
    assert failed["from"] == {
        "address": "opencomms_rcs_agent",
        "channel": "RCS",
        "senderId": rcs_id,
    }
    assert failed["to"] == [{"address": "+14155550001", "channel": "PHONE"}]
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == 61337
    assert failed["error"]["message"]
    assert read["from"]["channel"] == "WHATSAPP"
    assert read["status"] == "READ"
    assert "error" not in read
    assert DATE_TIME.match(failed["attemptedAt"])
    assert read["attemptedAt"] >= failed["attemptedAt"]
    # the list shows the same Message without its content and attempts
    assert "content" not in listed
    assert "attempts" not in listed
    assert {k: v for k, v in message.items() if k not in ("content", "attempts")} == listed


def test_fetching_an_unknown_message_is_404(api: httpx.Client) -> None:
    for message_id in ("comms_message_01h9krwprkeee8fzqspvwy6nq8", "nonsense", "SM" + "0" * 32):
        response = api.get(f"/Messages/{message_id}")
        assert response.status_code == 404, message_id
        assert response.json()["status"] == 404


# --- GET /v1/Messages/Operations ------------------------------------------------------


def test_operations_are_listed_newest_first_in_pages(api: httpx.Client) -> None:
    sent = [send(api, {"to": [phone(100 + n)], "content": {"text": "Hi"}}) for n in range(5)]

    operations, pages = walk(api, "/Messages/Operations", "operations", pageSize=2)

    assert set(pages[0]) == {"operations", "pagination"}
    assert ids(operations) == list(reversed(sent))
    assert [len(p["operations"]) for p in pages] == [2, 2, 1]
    assert pages[-1]["pagination"]["next"] is None
    assert all("self" in p["pagination"] for p in pages)
    assert set(operations[0]) >= {"id", "status", "stats", "createdAt", "updatedAt"}
    assert set(operations[0]["stats"]) == STAT_KEYS


def test_operations_filter_by_status_and_dates(api: httpx.Client) -> None:
    first = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, first)
    boundary = a_moment_between()
    later = iso(now_ms() + 3_600_000)
    scheduled = send(
        api, {"to": [phone("0101")], "content": {"text": "Hi"}, "schedule": {"sendAt": [later]}}
    )
    last = send(api, {"to": [phone("0102")], "content": {"text": "Hi"}})
    wait_completed(api, last)

    def listed(**params: Any) -> list[str]:
        return ids(walk(api, "/Messages/Operations", "operations", **params)[0])

    assert listed() == [last, scheduled, first]
    assert listed(status="COMPLETED") == [last, first]
    assert listed(status="scheduled") == [scheduled]
    assert listed(status="CANCELED") == []
    assert listed(startDate=iso(boundary)) == [last, scheduled]
    assert listed(endDate=iso(boundary)) == [first]
    assert listed(startDate=iso(boundary), status="COMPLETED", pageSize=1) == [last]
    response = api.get("/Messages/Operations", params={"status": "DONE"})
    assert response.status_code == 400
    assert response.json()["errors"][0]["field"] == "status"


# --- GET /v1/Messages/Operations/{id}: live stats ---------------------------------------


def test_stats_add_up_at_every_poll_of_a_2000_recipient_operation(api: httpx.Client) -> None:
    # a pool without an email sender: the email recipients are unaddressable
    default_pool = ok(api.get("/SenderPools"))["senderPools"][0]
    phone_pool = api.post(
        "/SenderPools", json={"name": "phones", "senders": default_pool["senders"][:3]}
    ).json()
    to = [phone(n) for n in range(1000, 2990)]
    to += [{"address": f"person{n}@example.com", "channel": "EMAIL"} for n in range(10)]
    operation_id = send(
        api, {"to": to, "content": {"text": "Hi"}, "from": {"senderPoolId": phone_pool["id"]}}
    )

    snapshots = []
    deadline = time.monotonic() + 120
    while True:
        body = ok(api.get(f"/Messages/Operations/{operation_id}"))
        snapshots.append(body)
        stats = body["stats"]
        assert set(stats) == STAT_KEYS
        assert stats["recipients"] == stats["total"] + stats["unaddressable"], stats
        assert stats["total"] == sum(stats[bucket] for bucket in BUCKETS), stats
        assert all(value >= 0 for value in stats.values()), stats
        # COMPLETED once every Message settled; their READ receipts may still be coming
        if body["status"] == "COMPLETED" and stats["read"] == 1990:
            break
        assert body["status"] in ("PROCESSING", "COMPLETED"), body["status"]
        assert time.monotonic() < deadline, f"not COMPLETED with every READ: {body}"

    statuses = [s["status"] for s in snapshots]
    assert statuses[0] == "PROCESSING"
    assert statuses == sorted(statuses, key=["PROCESSING", "COMPLETED"].index)
    final = snapshots[-1]["stats"]
    assert final["recipients"] == 2000
    assert final["total"] == 1990
    assert final["unaddressable"] == 10
    assert final["read"] == 1990
    assert final["attempts"] == 1990
    assert final["queued"] == final["sent"] == final["failed"] == 0
    # the counters only grow towards the final numbers
    seen = [s["stats"] for s in snapshots]
    for column in ("recipients", "total", "unaddressable", "attempts", "read"):
        values = [s[column] for s in seen]
        assert values == sorted(values), column


def test_an_operation_of_another_account_or_unknown_is_404(
    api: httpx.Client, server: ThreadServer
) -> None:
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as other:
        theirs = send(other, {"to": [phone("0100")], "content": {"text": "x"}})
        assert_stats_consistent(wait_completed(other, theirs)["stats"])

    for operation_id in (theirs, "comms_operation_01h2xcejqtf2nbrexx3vqjhp41", "garbage"):
        response = api.get(f"/Messages/Operations/{operation_id}")
        assert response.status_code == 404
        assert response.json()["code"] == 20404
        assert "stats" not in response.json()


# --- PostgreSQL with a linguistic collation -------------------------------------------


@contextmanager
def icu_collated_server(tmp_path: Path) -> Iterator[ThreadServer]:
    """A server on a PostgreSQL database whose text collation is ICU en-US, not C."""
    require_postgres()
    name = "opencomms_test_icu_" + secrets.token_hex(4)
    try:
        asyncio.run(
            _admin(
                f'CREATE DATABASE "{name}" TEMPLATE template0'
                " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
            )
        )
    except asyncpg.PostgresError as error:
        pytest.skip(f"this PostgreSQL cannot create an ICU database: {error}")
    settings = Settings(
        server=ServerSettings(database_url=_with_database(ADMIN_URL, name)),
        simulator=SimulatorSettings(
            receipt_latency_ms=[0, 5], submit_log=str(tmp_path / "submits.jsonl")
        ),
    )
    try:
        running = ThreadServer(settings).start()
        try:
            yield running
        finally:
            running.stop()
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


def test_every_list_pages_on_a_database_with_a_linguistic_collation(tmp_path: Path) -> None:
    # en-US sorts '~' before letters: a list must not depend on how '~' compares to ids
    with (
        icu_collated_server(tmp_path) as server,
        httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as api,
    ):
        senders = [
            api.post("/Senders", json={"address": f"+1206555{n:04d}", "channel": "SMS"}).json()
            for n in range(100, 103)
        ]
        for sender in senders:
            assert api.post("/SenderPools", json={"senders": [sender["id"]]}).status_code == 202
        operations = [
            send(api, {"to": [phone(n) for n in range(100, 110)], "content": {"text": "x"}})
            for _ in range(3)
        ]
        for operation_id in operations:
            wait_completed(api, operation_id)

        messages, _ = walk(api, "/Messages", "messages", pageSize=4)
        assert len(set(ids(messages))) == 30
        assert ids(messages) == sorted(ids(messages), reverse=True)
        listed_operations, _ = walk(api, "/Messages/Operations", "operations", pageSize=2)
        assert ids(listed_operations) == list(reversed(operations))
        listed_senders, _ = walk(api, "/Senders", "senders", pageSize=2)
        assert len(listed_senders) == 4 + 3
        assert ids(listed_senders)[:3] == ids(list(reversed(senders)))
        pools, _ = walk(api, "/SenderPools", "senderPools", pageSize=2)
        assert len(pools) == 1 + 3
