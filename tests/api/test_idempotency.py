"""`Idempotency-Key` on `POST /v1/Messages`: the first answer again, 422, 409, and what
does not consume a key. Each check ends with what a client would look at: how many
operations the account has.
"""

from __future__ import annotations

import hashlib
import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest

from opencomms.domain.clock import now_ms
from opencomms.store import idempotency
from opencomms.store.idempotency import KEEP_MS, STALE_PENDING_MS, Claim, ClaimLost
from tests.api.test_errors import assert_error, assert_invalid, assert_nothing_accepted
from tests.support.server import ThreadServer

BODY = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}
OTHER = {"to": [{"address": "+14155550101", "channel": "PHONE"}], "content": {"text": "Hi"}}
ANSWER_HEADERS = ("operationId", "Operation-Location", "Location")


def post(api: httpx.Client, key: str, body: Any = BODY, url: str = "/Messages") -> httpx.Response:
    return api.post(url, json=body, headers={"Idempotency-Key": key})


def operation_ids(api: httpx.Client) -> list[str]:
    response = api.get("/Messages/Operations")
    assert response.status_code == 200, response.text
    return [operation["id"] for operation in response.json()["operations"]]


def accepted(response: httpx.Response) -> str:
    assert response.status_code == 202, response.text
    operation_id: str = response.json()["operationId"]
    return operation_id


def run_sql(server: ThreadServer, sql: str, *args: Any) -> int:
    """One statement in a write transaction of the server's own database."""
    changed: int = server.call(server.runtime.db.write(lambda conn: conn.execute(sql, *args)))
    return changed


def key_rows(server: ThreadServer, account_sid: str) -> list[str]:
    rows = server.call(
        server.runtime.db.read(
            lambda conn: conn.fetch(
                "SELECT key FROM idempotency_keys WHERE account_sid = ? ORDER BY key", account_sid
            )
        )
    )
    return [row[0] for row in rows]


def age_key(server: ThreadServer, account_sid: str, key: str, by_ms: int) -> None:
    changed = run_sql(
        server,
        "UPDATE idempotency_keys SET created_at = created_at - ? WHERE account_sid = ? AND key = ?",
        by_ms,
        account_sid,
        key,
    )
    assert changed == 1


def hold_key(server: ThreadServer, account_sid: str, key: str, body: bytes, age_ms: int) -> None:
    """A PENDING claim of `body`, made `age_ms` ago, as a request being accepted leaves."""
    run_sql(
        server,
        "INSERT INTO idempotency_keys (account_sid, key, request_hash, status, created_at)"
        " VALUES (?, ?, ?, 'PENDING', ?)",
        account_sid,
        key,
        hashlib.sha256(body).hexdigest(),
        now_ms() - age_ms,
    )


def raw(body: Any) -> bytes:
    """The bytes httpx sends for `json=body`."""
    return httpx.Request("POST", "http://x", json=body).content


@pytest.fixture
def other_api(server: ThreadServer) -> Iterator[httpx.Client]:
    """A client of a second fresh account."""
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account(), timeout=30) as c:
        yield c


def test_the_same_key_and_body_get_the_first_answer_again(api: httpx.Client) -> None:
    first = post(api, "order-1")
    operation_id = accepted(first)

    again = post(api, "order-1")

    assert again.status_code == 202
    assert again.content == first.content
    for header in ANSWER_HEADERS:
        assert again.headers[header] == first.headers[header]
    assert again.headers["Idempotent-Replayed"] == "true"
    assert "Idempotent-Replayed" not in first.headers
    assert operation_ids(api) == [operation_id]


def test_a_key_is_replayed_through_preview_too(api: httpx.Client) -> None:
    preview = str(api.base_url).replace("/v1", "/preview") + "/Messages"
    first = post(api, "preview-1", url=preview)
    operation_id = accepted(first)
    assert first.headers["Location"] == f"/preview/Messages/Operations/{operation_id}"

    again = post(api, "preview-1", url=preview)

    assert again.status_code == 202
    assert again.content == first.content
    assert again.headers["Location"] == first.headers["Location"]
    assert operation_ids(api) == [operation_id]


def test_the_same_key_with_another_body_is_a_422(api: httpx.Client) -> None:
    operation_id = accepted(post(api, "order-2"))

    response = post(api, "order-2", OTHER)

    assert_error(response, 422)
    assert response.json()["code"] == 20422
    assert "Idempotency-Key" in response.json()["message"]
    assert "another request" in response.json()["message"]
    assert operation_ids(api) == [operation_id]


def test_a_key_held_by_a_request_in_flight_is_a_409_with_retry_after(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    hold_key(server, account[0], "busy", raw(BODY), age_ms=0)

    response = post(api, "busy")

    assert_error(response, 409)
    assert response.json()["code"] == 20409
    assert response.headers["Retry-After"] == "1"
    assert_nothing_accepted(api)


def test_a_key_in_flight_with_another_body_is_a_422(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    hold_key(server, account[0], "busy", raw(BODY), age_ms=0)

    assert_error(post(api, "busy", OTHER), 422)
    assert_nothing_accepted(api)


def test_a_claim_left_by_a_dead_request_is_taken_over_by_the_same_request(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    hold_key(server, account[0], "crashed", raw(BODY), age_ms=STALE_PENDING_MS + 1000)

    assert_error(post(api, "crashed", OTHER), 422)
    first = post(api, "crashed")
    operation_id = accepted(first)

    assert post(api, "crashed").content == first.content
    assert operation_ids(api) == [operation_id]


def test_concurrent_retries_accept_exactly_one_operation(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    # a large body keeps the first request in its accept while the others arrive
    body = {
        "to": [{"address": f"+1415{n:07d}", "channel": "PHONE"} for n in range(10_000)],
        "content": {"text": "Hi"},
    }
    start = threading.Barrier(4)

    def fire(_: int) -> httpx.Response:
        with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=60) as client:
            start.wait()
            return post(client, "race", body)

    with ThreadPoolExecutor(4) as pool:
        responses = list(pool.map(fire, range(4)))

    statuses = sorted(r.status_code for r in responses)
    assert set(statuses) <= {202, 409}, [r.text for r in responses]
    assert 202 in statuses
    for response in responses:
        if response.status_code == 409:
            assert response.headers["Retry-After"] == "1"
    winners = {r.json()["operationId"] for r in responses if r.status_code == 202}
    assert len(winners) == 1
    with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=60) as client:
        assert operation_ids(client) == list(winners)
        assert accepted(post(client, "race", body)) in winners


def test_keys_are_scoped_to_the_account(api: httpx.Client, other_api: httpx.Client) -> None:
    mine = accepted(post(api, "shared-key"))
    theirs = accepted(post(other_api, "shared-key"))

    assert mine != theirs
    assert operation_ids(api) == [mine]
    assert operation_ids(other_api) == [theirs]
    # and another body under the same key in the other account is that account's own
    assert_error(post(other_api, "shared-key", OTHER), 422)


@pytest.mark.parametrize(
    "body",
    [
        {"to": [], "content": {"text": "Hi"}},
        {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": 7}},
    ],
)
def test_a_refused_request_does_not_consume_its_key(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str], body: dict[str, Any]
) -> None:
    assert post(api, "fix-and-retry", body).status_code == 400
    assert key_rows(server, account[0]) == []

    operation_id = accepted(post(api, "fix-and-retry"))

    assert accepted(post(api, "fix-and-retry")) == operation_id
    assert operation_ids(api) == [operation_id]


def test_a_refused_request_still_finds_a_used_key(api: httpx.Client) -> None:
    operation_id = accepted(post(api, "used"))

    # the key is checked before the body: a used key with another body is a 422
    assert_error(post(api, "used", {"to": []}), 422)
    assert operation_ids(api) == [operation_id]


@pytest.mark.parametrize(
    "key",
    ["", "x" * 256, "tab\there", "caf\xe9"],
    ids=["empty", "256 characters", "control character", "not ASCII"],
)
def test_a_malformed_key_is_a_400_naming_the_header(api: httpx.Client, key: str) -> None:
    response = api.post(
        "/Messages", json=BODY, headers=[("Idempotency-Key", key.encode("latin-1"))]
    )

    assert_invalid(response, "Idempotency-Key")
    assert_nothing_accepted(api)


def test_a_key_given_twice_is_a_400(api: httpx.Client) -> None:
    headers = [("Idempotency-Key", "a"), ("Idempotency-Key", "b")]
    response = api.post("/Messages", json=BODY, headers=headers)

    assert_invalid(response, "Idempotency-Key")
    assert_nothing_accepted(api)


def test_keys_of_255_printable_characters_are_accepted(api: httpx.Client) -> None:
    longest = ("abc-~ !" * 40)[:255]
    operation_id = accepted(post(api, longest))

    assert accepted(post(api, longest)) == operation_id
    assert accepted(post(api, "k")) != operation_id


def test_an_expired_key_is_new_and_expired_keys_are_deleted(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    first = accepted(post(api, "daily"))
    accepted(post(api, "forgotten"))
    accepted(post(api, "recent"))
    age_key(server, account[0], "daily", KEEP_MS)
    age_key(server, account[0], "forgotten", KEEP_MS + 1)
    age_key(server, account[0], "recent", KEEP_MS - 60_000)

    second = accepted(post(api, "daily", OTHER))

    assert second != first
    assert len(operation_ids(api)) == 3 + 1
    assert key_rows(server, account[0]) == ["daily", "recent"]


def test_a_claim_taken_over_can_neither_record_nor_release(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    sid = account[0]

    def claim(now: int) -> Any:
        return server.call(
            server.runtime.db.write(lambda conn: idempotency.claim_key(conn, sid, "k", "h", now))
        )

    old = claim(now_ms() - STALE_PENDING_MS - 1)
    new = claim(now_ms())
    assert isinstance(old, Claim)
    assert isinstance(new, Claim)
    assert new.stamp != old.stamp

    with pytest.raises(ClaimLost):
        server.call(
            server.runtime.db.write(
                lambda conn: idempotency.complete_key(conn, old, 202, b"{}", {})
            )
        )
    server.call(server.runtime.db.write(lambda conn: idempotency.release_key(conn, old)))
    record = server.call(server.runtime.db.read(lambda conn: idempotency.get_key(conn, sid, "k")))
    assert record is not None
    assert (record.status, record.created_at) == ("PENDING", new.stamp)
