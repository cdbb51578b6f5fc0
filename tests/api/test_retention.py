"""What the API answers about data the retention policy deleted, on both engines."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.support.polling import all_messages, send, wait_stats
from tests.support.retention import age, prune, retention_server
from tests.support.server import ThreadServer


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[ThreadServer]:
    with retention_server(request.param, tmp_path_factory.mktemp(request.param)) as running:
        yield running


def phones(count: int) -> list[dict[str, str]]:
    return [{"address": f"+1415555{n:04d}", "channel": "PHONE"} for n in range(2000, 2000 + count)]


def pruned_operation(server: ThreadServer, api: httpx.Client) -> tuple[str, list[str]]:
    """An operation finished 31 days ago and pruned; its id and its Messages' ids."""
    operation_id = send(api, {"to": phones(4), "content": {"text": "Hi"}})
    wait_stats(api, operation_id, read=4)  # no change comes after
    message_ids = [m["id"] for m in all_messages(api, operationId=operation_id)]
    age(server, "operations", "updated_at", "id = ?", operation_id, days=31)
    prune(server)
    return operation_id, message_ids


def test_a_pruned_operation_answers_404_saying_it_was_deleted_and_why(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id, _ = pruned_operation(server, api)

    response = api.get(f"/Messages/Operations/{operation_id}")

    assert response.status_code == 404
    body = response.json()
    assert body["code"] == 20404
    assert f"Operation {operation_id} was deleted on " in body["message"]
    assert "kept 30d after they finish (retention.operations)" in body["message"]
    listed = api.get("/Messages/Operations").json()["operations"]
    assert operation_id not in [o["id"] for o in listed]


def test_a_message_of_a_pruned_operation_answers_404_naming_its_operation(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id, message_ids = pruned_operation(server, api)

    answers = [api.get(f"/Messages/{message_id}") for message_id in message_ids]

    assert [a.status_code for a in answers] == [404] * 4
    for message_id, answer in zip(message_ids, answers, strict=True):
        message = answer.json()["message"]
        assert f"Message {message_id} was deleted on " in message
        assert f"with its operation {operation_id}" in message
        assert "(retention.operations)" in message
    assert all_messages(api, operationId=operation_id) == []


def test_an_id_that_never_existed_is_plainly_not_found(
    server: ThreadServer, api: httpx.Client
) -> None:
    pruned_operation(server, api)
    never = "comms_operation_01hzzzzzzzzzzzzzzzzzzzzzzz"

    response = api.get(f"/Messages/Operations/{never}")

    assert response.status_code == 404
    assert response.json()["message"] == f"Operation {never} was not found."


def test_another_accounts_pruned_operation_is_not_named(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id, message_ids = pruned_operation(server, api)
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as other:
        operation = other.get(f"/Messages/Operations/{operation_id}")
        message = other.get(f"/Messages/{message_ids[0]}")

    assert operation.json()["message"] == f"Operation {operation_id} was not found."
    assert message.json()["message"] == f"Message {message_ids[0]} was not found."


def test_canceling_a_pruned_operation_or_message_says_it_was_deleted(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id, message_ids = pruned_operation(server, api)

    operation = api.post(f"/Messages/Operations/{operation_id}/Cancel")
    message = api.post(f"/Messages/{message_ids[0]}/Cancel")

    assert (operation.status_code, message.status_code) == (404, 404)
    assert f"Operation {operation_id} was deleted on " in operation.json()["message"]
    assert f"with its operation {operation_id}" in message.json()["message"]
