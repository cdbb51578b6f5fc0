"""Search Messages (`POST /v1/Messages/Search`, the filters in a JSON body) and Seek
(`GET /v1/Messages/Seek/{attemptId}`, 301 to the Message), as Twilio documents them."""

from __future__ import annotations

from typing import Any

import httpx

from tests.support.polling import all_messages, send, wait_completed


def phone(ending: str) -> dict[str, str]:
    return {"address": f"+1415555{ending}", "channel": "PHONE"}


def search(api: httpx.Client, body: Any, **params: Any) -> httpx.Response:
    return api.post("/Messages/Search", json=body, params=params)


def found(response: httpx.Response) -> list[str]:
    assert response.status_code == 200, response.text
    return [message["id"] for message in response.json()["messages"]]


def test_search_filters_as_the_list_does(api: httpx.Client) -> None:
    tagged = send(
        api, {"to": [phone("0100"), phone("0101")], "content": {"text": "a"}, "tags": {"k": "v"}}
    )
    other = send(api, {"to": [phone("0102")], "content": {"text": "b"}})
    wait_completed(api, tagged), wait_completed(api, other)
    of_tagged = [m["id"] for m in all_messages(api, operationId=tagged)]

    assert found(search(api, {"operationId": tagged})) == of_tagged
    assert found(search(api, {"tags": {"k": "v"}})) == of_tagged
    assert found(search(api, {"operationId": other, "tags": {"k": "v"}})) == []
    assert len(found(search(api, {}))) == 3
    assert found(search(api, {"address": "+14155550102"})) == [
        m["id"] for m in all_messages(api, operationId=other)
    ]
    assert found(search(api, {"status": "read", "channel": "RCS"})) == [
        m["id"] for m in all_messages(api, status="READ", channel="RCS")
    ]


def test_search_pages_with_the_query_and_the_same_body(api: httpx.Client) -> None:
    operation_id = send(
        api, {"to": [phone(f"01{n:02}") for n in range(5)], "content": {"text": "a"}}
    )
    wait_completed(api, operation_id)
    body = {"operationId": operation_id}

    first = search(api, body, pageSize=2).json()
    second = search(api, body, pageSize=2, pageToken=first["pagination"]["next"])
    other_body = search(api, {}, pageSize=2, pageToken=first["pagination"]["next"])

    expected = [m["id"] for m in all_messages(api, operationId=operation_id)]
    assert [m["id"] for m in first["messages"]] + found(second)[:2] == expected[:4]
    assert other_body.status_code == 400
    assert other_body.json()["errors"][0]["field"] == "pageToken"


def test_search_lists_every_problem_and_names_what_it_does_not_support(
    api: httpx.Client,
) -> None:
    response = search(
        api,
        {
            "sessionId": "comms_session_01h9krwprkeee8fzqspvwy6nq8",
            "profile": "mem_profile_01h9krwprkeee8fzqspvwy6nq8",
            "status": "NOPE",
            "operationId": 7,
            "tags": {"k": 1},
        },
        profile="x",
    )

    assert response.status_code == 400, response.text
    fields = {error["field"] for error in response.json()["errors"]}
    assert fields == {"sessionId", "profile", "status", "operationId", "tags"}
    assert search(api, ["not", "an", "object"]).status_code == 400


def test_seek_answers_301_to_the_message_of_an_attempt(api: httpx.Client, server: Any) -> None:
    operation_id = send(api, {"to": [phone("0001")], "content": {"text": "Hi"}})  # RCS fails
    wait_completed(api, operation_id)
    (listed,) = all_messages(api, operationId=operation_id)
    attempts = api.get(f"/Messages/{listed['id']}").json()["attempts"]

    for attempt in attempts:
        response = api.get(f"/Messages/Seek/{attempt['id']}", follow_redirects=False)
        assert response.status_code == 301
        assert response.headers["Location"] == f"/v1/Messages/{listed['id']}"
    followed = api.get(f"/Messages/Seek/{attempts[0]['id']}", follow_redirects=True)
    assert len(attempts) == 2
    assert followed.status_code == 200 and followed.json()["id"] == listed["id"]


def test_seek_of_an_unknown_or_another_accounts_attempt_is_a_404(
    api: httpx.Client, server: Any
) -> None:
    from tests.support.server import account_client

    operation_id = send(api, {"to": [phone("0100")], "content": {"text": "Hi"}})
    wait_completed(api, operation_id)
    (listed,) = all_messages(api, operationId=operation_id)
    attempt_id = api.get(f"/Messages/{listed['id']}").json()["attempts"][0]["id"]

    with account_client(server) as other:
        assert other.get(f"/Messages/Seek/{attempt_id}").status_code == 404
    assert api.get("/Messages/Seek/SM" + "0" * 32).status_code == 404
    assert api.get("/Messages/Seek/comms_message_01h9krwprkeee8fzqspvwy6nq8").status_code == 404
