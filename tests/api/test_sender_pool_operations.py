"""Sender Pools' writes as Twilio documents them: 202 with a SenderPool Operation,
`senders` as `[{senderId}]`, adding senders as a JSON array, and the operations read back."""

from __future__ import annotations

from typing import Any

import httpx
import pytest


def default_senders(api: httpx.Client) -> list[str]:
    pool = next(p for p in api.get("/SenderPools").json()["senderPools"] if p["default"])
    ids: list[str] = pool["senders"]
    return ids


def accepted(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 202, response.text
    body: dict[str, Any] = response.json()
    path = f"/v1/SenderPools/Operations/{body['operationId']}"
    assert response.headers["Location"] == response.headers["Operation-Location"] == path
    assert response.headers["operationId"] == body["operationId"]
    assert body["operationLocation"].endswith(path)
    return body


def operation(api: httpx.Client, body: dict[str, Any]) -> dict[str, Any]:
    response = api.get(f"/SenderPools/Operations/{body['operationId']}")
    assert response.status_code == 200, response.text
    found: dict[str, Any] = response.json()
    return found


def test_create_takes_twilios_sender_objects_and_answers_with_an_operation(
    api: httpx.Client,
) -> None:
    rcs, whatsapp = default_senders(api)[:2]
    body = {"name": "APAC", "senders": [{"senderId": rcs}, {"senderId": whatsapp}], "tags": {}}

    created = accepted(api.post("/SenderPools", json=body))

    polled = operation(api, created)
    assert polled["id"] == created["operationId"]
    assert polled["status"] == "COMPLETED"
    assert polled["stats"] == {"total": 2, "queued": 0, "created": 2, "failed": 0}
    assert api.get(f"/SenderPools/{created['id']}").json()["senders"] == [rcs, whatsapp]


@pytest.mark.parametrize("shape", ["objects", "ids", "wrapped"])
def test_adding_senders_takes_a_json_array(api: httpx.Client, shape: str) -> None:
    first, second, third = default_senders(api)[:3]
    pool = accepted(api.post("/SenderPools", json={"name": "p", "senders": [{"senderId": first}]}))
    new = [second, third, first]  # first is already in: not created again
    body: Any = {
        "objects": [{"senderId": s} for s in new],
        "ids": new,
        "wrapped": {"senders": new},
    }[shape]

    added = accepted(api.post(f"/SenderPools/{pool['id']}/Senders", json=body))

    assert operation(api, added)["stats"] == {"total": 2, "queued": 0, "created": 2, "failed": 0}
    assert api.get(f"/SenderPools/{pool['id']}").json()["senders"] == [first, second, third]


def test_a_bad_add_names_every_problem_and_changes_nothing(api: httpx.Client) -> None:
    first = default_senders(api)[0]
    pool = accepted(api.post("/SenderPools", json={"name": "p", "senders": [first]}))
    path = f"/SenderPools/{pool['id']}/Senders"
    missing = "comms_sender_01h9krwprkeee8fzqspvwy6nq8"

    unknown = api.post(path, json=[{"senderId": missing}, {"senderId": "nope"}])
    malformed = api.post(path, json=[{"id": first}])
    scalar = api.post(path, json="x")

    assert unknown.status_code == malformed.status_code == scalar.status_code == 400
    assert {e["field"] for e in unknown.json()["errors"]} == {"body[0]", "body[1]"}
    assert [e["field"] for e in malformed.json()["errors"]] == ["body"]
    assert api.get(f"/SenderPools/{pool['id']}").json()["senders"] == [first]
    operations = api.get("/SenderPools/Operations").json()["operations"]
    assert [o["id"] for o in operations] == [pool["operationId"]]


def test_operations_are_listed_newest_first_and_are_the_accounts_own(
    api: httpx.Client, server: Any
) -> None:
    from tests.support.server import account_client

    made = [accepted(api.post("/SenderPools", json={"name": f"p{n}"})) for n in range(3)]

    first = api.get("/SenderPools/Operations", params={"pageSize": 2}).json()
    second = api.get(
        "/SenderPools/Operations", params={"pageSize": 2, "pageToken": first["pagination"]["next"]}
    ).json()

    listed = [o["id"] for o in first["operations"] + second["operations"]]
    assert listed == [m["operationId"] for m in made[::-1]]
    with account_client(server) as other:
        assert other.get(f"/SenderPools/Operations/{made[0]['operationId']}").status_code == 404
        assert other.get("/SenderPools/Operations").json()["operations"] == []
    assert api.get("/SenderPools/Operations/nope").status_code == 404
