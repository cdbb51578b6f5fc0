"""Authentication (account credentials and API keys), hashed secrets, account isolation."""

from __future__ import annotations

import asyncio
import base64
import re
import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest

from tests.support.polling import all_messages, send, wait_completed
from tests.support.server import ThreadServer

API_KEY_SID = re.compile(r"^SK[0-9a-f]{32}$")
MISSING_KEY = "SK" + "0" * 32


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


def ok(response: httpx.Response, status: int = 200) -> dict[str, Any]:
    assert response.status_code == status, response.text
    body: dict[str, Any] = response.json()
    return body


def basic(username: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def assert_unauthorized(response: httpx.Response) -> None:
    assert response.status_code == 401, response.text
    assert response.headers["WWW-Authenticate"].lower().startswith("basic")
    body = response.json()
    assert body["status"] == 401
    assert isinstance(body["code"], int)
    assert body["message"]
    assert body["moreInfo"].startswith("https://")
    assert body["errors"] == []


@pytest.fixture
def anonymous(server: ThreadServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=server.url, timeout=30) as client:
        yield client


@pytest.fixture
def other(server: ThreadServer) -> Iterator[httpx.Client]:
    """A second account, to check that the first one's objects stay out of its reach."""
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account(), timeout=30) as client:
        yield client


def create_key(api: httpx.Client, name: str = "ci") -> dict[str, Any]:
    return ok(api.post("/ApiKeys", json={"friendlyName": name}), 201)


def key_client(server: ThreadServer, key: dict[str, Any]) -> httpx.Client:
    return httpx.Client(base_url=server.url + "/v1", auth=(key["sid"], key["secret"]), timeout=30)


# --- credentials ----------------------------------------------------------------------


def test_no_credentials_is_401_with_a_basic_challenge(anonymous: httpx.Client) -> None:
    for method, path in (
        ("GET", "/v1/Messages"),
        ("POST", "/v1/Messages"),
        ("GET", "/v1/Messages/Operations"),
        ("GET", "/v1/Senders"),
        ("GET", "/v1/SenderPools"),
        ("GET", "/v1/ApiKeys"),
        ("GET", "/preview/Messages"),
    ):
        assert_unauthorized(anonymous.request(method, path, json={}))
    assert anonymous.get("/healthz").status_code == 200


def test_wrong_credentials_are_401(
    server: ThreadServer, account: tuple[str, str], anonymous: httpx.Client
) -> None:
    sid, token = account
    other_sid, other_token = server.new_account()
    for username, password in (
        (sid, "0" * 32),
        (sid, token.upper()),
        (sid, token[:-1]),
        (sid, other_token),
        (other_sid, token),
        ("AC" + "0" * 32, token),
        (MISSING_KEY, token),
        (token, sid),
    ):
        assert_unauthorized(anonymous.get("/v1/Messages", auth=(username, password)))
    assert anonymous.get("/v1/Messages", auth=(sid, token)).status_code == 200


def test_malformed_authorization_headers_are_401(
    account: tuple[str, str], anonymous: httpx.Client
) -> None:
    sid, token = account
    encoded = base64.b64encode(f"{sid}:{token}".encode()).decode()
    for header in (
        "Basic",
        "Basic !!!not-base64!!!",
        "Basic " + encoded[:-3],
        f"Bearer {encoded}",
        f"Digest {encoded}",
        encoded,
        basic(sid, ""),
        basic("", token),
        "Basic " + base64.b64encode(sid.encode()).decode(),
        "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode(),
    ):
        response = anonymous.get("/v1/Messages", headers={"Authorization": header})
        assert_unauthorized(response)
    for raw in (b"Basic \xff\xfe", b"Basic " + encoded.encode() + b"\xe9"):
        assert_unauthorized(anonymous.get("/v1/Messages", headers=[(b"Authorization", raw)]))
    nul = "Basic " + base64.b64encode(f"{sid}\x00:{token}".encode()).decode()
    assert_unauthorized(anonymous.get("/v1/Messages", headers={"Authorization": nul}))
    ok(anonymous.get("/v1/Messages", headers={"Authorization": f"basic {encoded}"}))


# --- API keys -------------------------------------------------------------------------


def test_an_api_key_authenticates_as_its_account(api: httpx.Client, server: ThreadServer) -> None:
    key = create_key(api, "deploy bot")

    assert API_KEY_SID.match(key["sid"])
    assert isinstance(key["secret"], str)
    assert len(key["secret"]) == 32
    assert key["friendlyName"] == "deploy bot"
    with key_client(server, key) as by_key:
        sender = ok(
            by_key.post("/Senders", json={"address": "+12065550150", "channel": "SMS"}), 201
        )
        operation_id = send(by_key, {"to": [phone("0100")], "content": {"text": "Hi"}})
        wait_completed(by_key, operation_id)
        assert len(all_messages(by_key, operationId=operation_id)) == 1
    # the account sees what the key did, and the other way round
    assert ok(api.get(f"/Senders/{sender['id']}")) == sender
    assert ok(api.get(f"/Messages/Operations/{operation_id}"))["status"] == "COMPLETED"
    assert len(all_messages(api, operationId=operation_id)) == 1


def test_api_keys_are_listed_without_their_secret(api: httpx.Client) -> None:
    first = create_key(api, "one")
    second = create_key(api, "two")

    listed = ok(api.get("/ApiKeys"))

    keys = listed["keys"]
    assert {k["sid"] for k in keys} == {first["sid"], second["sid"]}
    assert all("secret" not in k for k in keys)
    assert first["secret"] not in str(listed)
    assert {k["friendlyName"] for k in keys} == {"one", "two"}


def test_api_keys_are_managed_only_with_the_account_credentials(
    api: httpx.Client, server: ThreadServer
) -> None:
    key = create_key(api)

    with key_client(server, key) as by_key:
        assert_unauthorized(by_key.post("/ApiKeys", json={"friendlyName": "escalate"}))
        assert_unauthorized(by_key.get("/ApiKeys"))
        assert_unauthorized(by_key.delete(f"/ApiKeys/{key['sid']}"))
        ok(by_key.get("/Messages"))  # the key itself still works
    assert len(ok(api.get("/ApiKeys"))["keys"]) == 1


def test_a_deleted_key_stops_working_at_once(api: httpx.Client, server: ThreadServer) -> None:
    key = create_key(api)
    kept = create_key(api)

    with key_client(server, key) as by_key, key_client(server, kept) as by_kept:
        ok(by_key.get("/Messages"))  # used once, so it is known to be valid

        assert api.delete(f"/ApiKeys/{key['sid']}").status_code == 204

        assert_unauthorized(by_key.get("/Messages"))
        assert_unauthorized(by_key.get("/Senders"))
        ok(by_kept.get("/Messages"))
    assert api.delete(f"/ApiKeys/{key['sid']}").status_code == 404
    keys = ok(api.get("/ApiKeys"))["keys"]
    assert [k["sid"] for k in keys] == [kept["sid"]]


def test_a_key_with_a_wrong_secret_is_401(api: httpx.Client, anonymous: httpx.Client) -> None:
    key = create_key(api)
    secret = key["secret"]
    wrong = secret[:-1] + ("y" if secret.endswith("x") else "x")

    assert_unauthorized(anonymous.get("/v1/Messages", auth=(key["sid"], wrong)))
    assert_unauthorized(anonymous.get("/v1/Messages", auth=(key["sid"], secret + "x")))
    assert_unauthorized(anonymous.get("/v1/Messages", auth=(key["sid"], "0" * 32)))
    ok(anonymous.get("/v1/Messages", auth=(key["sid"], key["secret"])))


def test_invalid_api_key_requests_are_400(api: httpx.Client) -> None:
    response = api.post("/ApiKeys", json={"friendlyName": 7, "scope": "all"})

    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"friendlyName", "scope"}
    response = api.post("/ApiKeys", json={"friendlyName": "bot\x00"})
    assert response.status_code == 400
    assert {e["field"] for e in response.json()["errors"]} == {"friendlyName"}
    for sid in (MISSING_KEY, "%00", "SK" + "0" * 33):
        assert api.delete(f"/ApiKeys/{sid}").status_code == 404
    assert ok(api.get("/ApiKeys"))["keys"] == []


# --- secrets are stored hashed --------------------------------------------------------


def stored_text(server: ThreadServer) -> list[str]:
    """Every value of every table of the server's database, as text."""
    url = server.settings.server.database_url
    if url.startswith("sqlite:///"):
        with sqlite3.connect(url.removeprefix("sqlite:///")) as conn:
            tables = [
                row[0]
                for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
            ]
            assert "accounts" in tables
            assert "api_keys" in tables
            return [
                str(value)
                for table in tables
                for row in conn.execute(f'SELECT * FROM "{table}"')
                for value in row
            ]

    async def dump() -> list[str]:
        conn = await asyncpg.connect(url)
        try:
            tables = [
                row[0]
                for row in await conn.fetch(
                    "SELECT tablename FROM pg_tables WHERE schemaname = current_schema()"
                )
            ]
            assert "accounts" in tables
            assert "api_keys" in tables
            values = []
            for table in tables:
                values += [row[0] for row in await conn.fetch(f'SELECT t::text FROM "{table}" t')]
            return values
        finally:
            await conn.close()

    return asyncio.run(dump())


def test_no_table_holds_a_token_or_a_secret_in_plaintext(
    api: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    _, token = account
    key = create_key(api)
    with key_client(server, key) as by_key:
        ok(by_key.get("/Messages"))

    values = stored_text(server)

    assert any(account[0] in value for value in values)  # the dump does see the account
    assert not [value for value in values if token in value]
    assert not [value for value in values if key["secret"] in value]
    url = server.settings.server.database_url
    if url.startswith("sqlite:///"):
        path = Path(url.removeprefix("sqlite:///"))
        for file in (path, path.with_name(path.name + "-wal")):
            if file.exists():
                raw = file.read_bytes()
                assert token.encode() not in raw
                assert key["secret"].encode() not in raw


# --- isolation between accounts ---------------------------------------------------------


def test_another_accounts_ids_are_404_on_every_verb(api: httpx.Client, other: httpx.Client) -> None:
    sender = ok(api.post("/Senders", json={"address": "+12065550151", "channel": "SMS"}), 201)
    pool = ok(api.post("/SenderPools", json={"name": "mine", "senders": [sender["id"]]}), 202)
    key = create_key(api)
    operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    (message,) = all_messages(api, operationId=operation_id)
    their_sender = ok(other.get("/Senders"))["senders"][0]

    attempts: list[tuple[str, str, Any]] = [
        ("GET", f"/Messages/Operations/{operation_id}", None),
        ("GET", f"/Messages/{message['id']}", None),
        ("GET", f"/Senders/{sender['id']}", None),
        ("POST", f"/Senders/{sender['id']}", {"status": "DEACTIVATED"}),
        ("PATCH", f"/Senders/{sender['id']}", {"status": "DEACTIVATED"}),
        ("DELETE", f"/Senders/{sender['id']}", None),
        ("GET", f"/SenderPools/{pool['id']}", None),
        ("POST", f"/SenderPools/{pool['id']}", {"name": "stolen"}),
        ("PATCH", f"/SenderPools/{pool['id']}", {"default": True}),
        ("DELETE", f"/SenderPools/{pool['id']}", None),
        ("GET", f"/SenderPools/{pool['id']}/Senders", None),
        ("POST", f"/SenderPools/{pool['id']}/Senders", {"senders": [their_sender["id"]]}),
        ("DELETE", f"/SenderPools/{pool['id']}/Senders/{sender['id']}", None),
        ("DELETE", f"/ApiKeys/{key['sid']}", None),
    ]
    for method, path, body in attempts:
        response = other.request(method, path, json=body)
        assert response.status_code == 404, (method, path, response.text)
        assert response.json()["status"] == 404
        assert "address" not in response.json()

    # nothing of the first account changed
    assert ok(api.get(f"/Senders/{sender['id']}")) == sender
    assert ok(api.get(f"/SenderPools/{pool['id']}"))["senders"] == pool["senders"]
    assert ok(api.get(f"/Messages/{message['id']}"))["id"] == message["id"]
    keys = ok(api.get("/ApiKeys"))["keys"]
    assert [k["sid"] for k in keys] == [key["sid"]]
    # and none of it shows in the second account's lists
    assert sender["id"] not in {s["id"] for s in ok(other.get("/Senders"))["senders"]}
    assert pool["id"] not in {p["id"] for p in ok(other.get("/SenderPools"))["senderPools"]}
    assert operation_id not in str(ok(other.get("/Messages/Operations")))
    assert ok(other.get("/ApiKeys"))["keys"] == []


def test_another_accounts_senders_and_pools_cannot_be_used(
    api: httpx.Client, other: httpx.Client
) -> None:
    sender = ok(api.post("/Senders", json={"address": "+12065550152", "channel": "SMS"}), 201)
    pool = ok(api.post("/SenderPools", json={"name": "mine", "senders": [sender["id"]]}), 202)

    for sender_ref, field in (
        ({"senderId": sender["id"]}, "from.senderId"),
        ({"senderPoolId": pool["id"]}, "from.senderPoolId"),
        ({"address": "+12065550152", "channel": "SMS"}, "from.address"),
    ):
        response = other.post(
            "/Messages", json={"to": [phone("0100")], "content": {"text": "x"}, "from": sender_ref}
        )
        assert response.status_code == 400, response.text
        assert [e["field"] for e in response.json()["errors"]] == [field]
    response = other.post("/SenderPools", json={"name": "theirs", "senders": [sender["id"]]})
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["senders[0]"]
    their_pool = ok(other.get("/SenderPools"))["senderPools"][0]
    for method in ("POST", "PATCH"):
        response = other.request(
            method, f"/SenderPools/{their_pool['id']}", json={"senders": [sender["id"]]}
        )
        assert response.status_code == 400
    response = other.post(
        f"/SenderPools/{their_pool['id']}/Senders", json={"senders": [sender["id"]]}
    )
    assert response.status_code == 400
    assert [e["field"] for e in response.json()["errors"]] == ["senders[0]"]
    assert sender["id"] not in ok(other.get(f"/SenderPools/{their_pool['id']}"))["senders"]


def test_an_api_key_cannot_reach_another_account(
    api: httpx.Client, other: httpx.Client, server: ThreadServer, account: tuple[str, str]
) -> None:
    key = create_key(api)
    their_key = create_key(other)
    theirs = send(other, {"to": [phone("0100")], "content": {"text": "x"}})

    with key_client(server, key) as by_key:
        assert by_key.get(f"/Messages/Operations/{theirs}").status_code == 404
        assert all_messages(by_key) == []
    # a key with its secret is one credential: it does not combine with another's
    assert_unauthorized(
        httpx.get(server.url + "/v1/Messages", auth=(key["sid"], their_key["secret"]))
    )
    assert_unauthorized(httpx.get(server.url + "/v1/Messages", auth=(account[0], key["secret"])))


def test_a_key_is_created_without_any_body(api: httpx.Client, server: ThreadServer) -> None:
    key = ok(api.post("/ApiKeys"), 201)

    assert API_KEY_SID.match(key["sid"])
    assert key["friendlyName"] == ""
    with key_client(server, key) as by_key:
        ok(by_key.get("/Messages"))
