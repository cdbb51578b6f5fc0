"""No input loses or blocks other work: what the database cannot store is refused at
accept, naming every field; dates and numbers at the edges of their ranges are refused or
shown; nothing answers 500. Through the real server, on SQLite and PostgreSQL.

A NUL character anywhere in a body reached PostgreSQL before: a 500 for a sink's
description, and, in a send, a fan-out chunk that failed forever.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from tests.api.test_errors import assert_error, assert_invalid
from tests.support.polling import all_messages, send, wait_until
from tests.support.server import ThreadServer

NUL = "\x00"
REPLACEMENT = "\ufffd"
LISTS = ("/Messages/Operations", "/Senders", "/SenderPools", "/OptOuts", "/Sinks", "/ApiKeys")


def snapshot(api: httpx.Client) -> dict[str, Any]:
    """Everything a client can list in its account."""
    found = {}
    for path in LISTS:
        response = api.get(path)
        assert response.status_code == 200, response.text
        found[path] = response.json()
    return found


def to(**fields: Any) -> list[dict[str, Any]]:
    return [{"address": "+14155550100", "channel": "PHONE", **fields}]


SEND = "/Messages"
BODIES = [
    (SEND, {"to": to(variables={"name": f"A{NUL}"}), "content": {"text": "Hi"}},
     ["to[0].variables.name"]),
    (SEND, {"to": to(variables={f"n{NUL}": "A"}), "content": {"text": "Hi"}},
     [f"to[0].variables.n{REPLACEMENT}"]),
    (SEND, {"to": to(), "content": {"text": f"Hi{NUL}"}}, ["content.text"]),
    (SEND, {"to": to(), "content": {"modules": [{"sms": {"text": f"x{NUL}"}}]}},
     ["content.modules[0].sms.text"]),
    (SEND, {"to": to(), "content": {"text": "Hi"}, "tags": {"t": f"{{{{ a }}}}{NUL}"}},
     ["tags.t"]),
    (SEND, {"to": to(variables={"a": NUL, "b": NUL}), "content": {"text": f"{NUL}"}},
     ["to[0].variables.a", "to[0].variables.b", "content.text"]),
    ("/Senders", {"address": f"+1206555{NUL}0100", "channel": "SMS"}, ["address"]),
    ("/Senders", {"address": "+12065550177", "channel": "SMS", "tags": {"k": NUL}},
     ["tags.k"]),
    ("/SenderPools", {"name": f"pool{NUL}"}, ["name"]),
    ("/OptOuts", {"address": f"a{NUL}@example.com"}, ["address"]),
    ("/Sinks", {"url": "http://127.0.0.1:9/hook", "description": f"d{NUL}"}, ["description"]),
    ("/Subscriptions", {"sinkId": f"s{NUL}", "types": [f"t{NUL}"]}, ["sinkId", "types[0]"]),
    ("/ApiKeys", {"friendlyName": f"key{NUL}"}, ["friendlyName"]),
]  # fmt: skip


@pytest.mark.parametrize(
    ("path", "body", "fields"), BODIES, ids=[f"{p}-{'-'.join(f)}" for p, _, f in BODIES]
)
def test_a_nul_anywhere_in_a_body_is_a_400_naming_each_field_and_changes_nothing(
    api: httpx.Client, path: str, body: dict[str, Any], fields: list[str]
) -> None:
    before = snapshot(api)

    response = api.post(path, json=body)

    assert_invalid(response, *fields)
    assert snapshot(api) == before


def test_a_nul_in_a_senders_update_is_refused_and_the_sender_unchanged(api: httpx.Client) -> None:
    sender = api.get("/Senders").json()["senders"][0]

    response = api.patch(f"/Senders/{sender['id']}", json={"tags": {f"k{NUL}": "v"}})

    assert_invalid(response, f"tags.k{REPLACEMENT}")
    assert api.get(f"/Senders/{sender['id']}").json() == sender


def test_a_nul_in_a_replay_bound_is_refused(api: httpx.Client) -> None:
    sink = api.post("/Sinks", json={"url": "http://127.0.0.1:9/hook"}).json()

    response = api.post(f"/Sinks/{sink['id']}/Replay", json={"startDate": f"2026{NUL}"})

    assert_invalid(response, "startDate")


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("GET", "/Sinks/%00"),
        ("DELETE", "/Sinks/%00"),
        ("GET", "/Sinks/%00/Deliveries"),
        ("POST", "/Sinks/%00/Replay"),
        ("GET", "/Subscriptions/%00"),
        ("DELETE", "/Subscriptions/%00"),
        ("GET", "/Senders/comms_sender_%00"),
        ("GET", "/SenderPools/%00/Senders"),
        ("GET", "/OptOuts/%00"),
        ("DELETE", "/OptOuts/a%00%40example.com"),
        ("GET", "/Messages/%00"),
        ("POST", "/Messages/Operations/%00/Cancel"),
    ],
)
def test_a_nul_in_a_path_names_nothing_that_exists(
    api: httpx.Client, method: str, path: str
) -> None:
    response = api.request(method, path, json={})

    assert_error(response, 404)


# -- dates and numbers at the edges of their ranges ------------------------------------------


@pytest.mark.parametrize(
    "send_at",
    ["9999-12-31T23:00:00-05:00", "9999-12-31T23:59:59.999-14:00", "9998-06-01T09:00:00"],
)
def test_a_send_at_past_ten_years_is_refused(api: httpx.Client, send_at: str) -> None:
    body = {"to": to(), "content": {"text": "Hi"}, "schedule": {"sendAt": [send_at]}}

    assert_invalid(api.post("/Messages", json=body), "schedule.sendAt[0]")
    assert api.get("/Messages/Operations").json()["operations"] == []


def test_a_send_at_nine_years_ahead_is_listed_with_its_date(api: httpx.Client) -> None:
    moment = (datetime.now(UTC) + timedelta(days=9 * 365)).replace(microsecond=0)
    body = {"to": to(), "content": {"text": "Hi"}, "schedule": {"sendAt": [moment.isoformat()]}}
    operation_id = send(api, body)

    (message,) = wait_until(lambda: all_messages(api, operationId=operation_id))

    assert message["scheduledFor"] == moment.strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_a_date_stored_past_year_9999_is_shown_not_a_500(
    api: httpx.Client, server: ThreadServer
) -> None:
    """A Message scheduled past 9999 in UTC (accepted before the limit) still lists."""
    operation_id = send(
        api,
        {"to": to(), "content": {"text": "Hi"}, "schedule": {"sendAt": ["2031-01-01T00:00:00Z"]}},
    )
    (message,) = wait_until(lambda: all_messages(api, operationId=operation_id))
    past_9999 = 253_402_315_200_000  # 9999-12-31T23:00:00-05:00

    server.call(
        server.runtime.db.write(
            lambda conn: conn.execute(
                "UPDATE messages SET scheduled_for = ? WHERE id = ?", past_9999, message["id"]
            )
        )
    )

    listed = api.get("/Messages")
    assert listed.status_code == 200, listed.text
    assert listed.json()["messages"][0]["scheduledFor"] == "10000-01-01T04:00:00.000Z"
    assert api.get(f"/Messages/{message['id']}").status_code == 200


def test_a_replay_to_the_end_of_9999_is_accepted_and_answered(api: httpx.Client) -> None:
    """Its end is past 9999 in UTC: the replay was stored, then the answer was a 500."""
    sink = api.post("/Sinks", json={"url": "http://127.0.0.1:9/hook"}).json()

    response = api.post(
        f"/Sinks/{sink['id']}/Replay",
        json={"startDate": "2020-01-01T00:00:00Z", "endDate": "9999-12-31T23:59:59-14:00"},
    )

    assert response.status_code == 202, response.text
    assert response.json()["endDate"] == "10000-01-01T13:59:59.000Z"


@pytest.mark.parametrize("field", ["fallbackTimeout", "receiptWait"])
@pytest.mark.parametrize("value", ["9" * 400 + "s", "1" * 16 + "ms", "31d", "-1s", "infs"])
def test_a_senders_duration_out_of_range_is_a_400(
    api: httpx.Client, field: str, value: str
) -> None:
    sender = api.get("/Senders").json()["senders"][0]

    assert_invalid(api.patch(f"/Senders/{sender['id']}", json={field: value}), field)
    assert api.get(f"/Senders/{sender['id']}").json() == sender


@pytest.mark.parametrize("size", ["0", "1001", "99999999999999999999", "1e3", "-1", "∞"])
def test_a_page_size_out_of_range_is_a_400(api: httpx.Client, size: str) -> None:
    assert_invalid(api.get("/Messages", params={"pageSize": size}), "pageSize")
