"""The API client's retries and error rendering, on a scripted transport."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

from opencomms.cli.client import ApiClient, ApiFailure, Unreachable, describe_failure
from opencomms.cli.connection import Connection
from opencomms.cli.send import _renumbered

CONNECTION = Connection("http://opencomms.test", "AC1", "token")
Handler = Callable[[httpx.Request], httpx.Response]


def scripted(*answers: httpx.Response | Exception) -> tuple[Handler, list[httpx.Request]]:
    """A transport handler giving `answers` in order; and the requests it saw."""
    seen: list[httpx.Request] = []
    queue = list(answers)

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        answer = queue.pop(0)
        if isinstance(answer, Exception):
            raise answer
        return answer

    return handler, seen


def client(handler: Handler) -> ApiClient:
    return ApiClient(CONNECTION, transport=httpx.MockTransport(handler))


def test_send_is_retried_after_503_with_the_same_idempotency_key() -> None:
    handler, seen = scripted(
        httpx.Response(503, headers={"Retry-After": "0"}, json={"message": "busy"}),
        httpx.Response(202, json={"operationId": "comms_operation_x"}),
    )

    assert client(handler).send({"to": []}) == "comms_operation_x"
    assert len(seen) == 2
    assert seen[0].headers["Idempotency-Key"] == seen[1].headers["Idempotency-Key"]
    assert seen[0].url == "http://opencomms.test/v1/Messages"
    assert seen[0].headers["Authorization"].startswith("Basic ")


def test_reads_survive_a_lost_answer_but_sends_do_not(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("opencomms.cli.client.time.sleep", lambda _: None)
    lost = httpx.ReadTimeout("lost")
    handler, _ = scripted(lost, httpx.Response(200, json={"id": "op", "status": "COMPLETED"}))
    assert client(handler).operation("op")["status"] == "COMPLETED"

    handler, seen = scripted(lost)
    with pytest.raises(Unreachable):
        client(handler).send({"to": []})
    assert len(seen) == 1


def test_a_refused_connection_is_not_retried() -> None:
    handler, seen = scripted(httpx.ConnectError("refused"))
    with pytest.raises(Unreachable, match=r"no answer from http://opencomms\.test"):
        client(handler).operation("op")
    assert len(seen) == 1


def test_errors_keep_the_contract_body() -> None:
    body = {
        "code": 20001,
        "message": "The request has 2 problems; each is listed in errors.",
        "status": 400,
        "errors": [
            {"field": "to[0].address", "message": "must be a phone number"},
            {"field": "tags.x y", "message": "bad"},
        ],
    }
    handler, _ = scripted(httpx.Response(400, json=body))

    with pytest.raises(ApiFailure) as caught:
        client(handler).send({"to": []})

    assert describe_failure(caught.value) == (
        "HTTP 400 (code 20001): The request has 2 problems; each is listed in errors.\n"
        "  to[0].address: must be a phone number\n"
        "  tags.x y: bad"
    )


def test_a_non_json_error_is_still_readable() -> None:
    handler, _ = scripted(httpx.Response(502, text="Bad Gateway"))
    with pytest.raises(ApiFailure) as caught:
        client(handler).operation("op")
    assert describe_failure(caught.value) == "HTTP 502: Bad Gateway"


def test_errors_of_a_later_batch_are_numbered_over_all_recipients() -> None:
    failure = ApiFailure(
        400,
        {
            "message": "to[2].address must be …",
            "errors": [{"field": "to[2].address", "message": "m"}],
        },
    )

    renumbered = _renumbered(failure, 10_000)

    assert renumbered.body["message"] == "to[10002].address must be …"
    assert renumbered.body["errors"] == [{"field": "to[10002].address", "message": "m"}]
