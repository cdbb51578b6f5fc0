"""Page tokens are signed: one the server did not issue, one altered, or one issued to
another account or for another list is a 400 with the contract's body, never a page."""

from __future__ import annotations

import base64
import json
from typing import Any

import httpx
import pytest

from tests.api.test_errors import assert_invalid
from tests.support.polling import wait_until
from tests.support.server import ThreadServer

BODY = {
    "to": [{"address": "+14155550100", "channel": "PHONE"}],
    "content": {"text": "hi"},
}


def _unpad(token: str) -> bytes:
    return base64.urlsafe_b64decode(token + "=" * (-len(token) % 4))


def _pad(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _content(token: str) -> tuple[dict[str, Any], bytes]:
    """What a client can read from a token: its JSON, and whatever follows it."""
    text = _unpad(token).decode("latin-1")
    content, end = json.JSONDecoder().raw_decode(text)
    return content, text[end:].encode("latin-1")


def _next_token(api: httpx.Client, path: str) -> str:
    """The token of a list's second page (waiting for the fan-out to make messages)."""

    def token() -> str | None:
        page = api.get(path, params={"pageSize": 1})
        assert page.status_code == 200, page.text
        found: str | None = page.json()["pagination"]["next"]
        return found

    found: str = wait_until(token)
    return found


@pytest.fixture
def three_operations(api: httpx.Client) -> None:
    for _ in range(3):
        assert api.post("/Messages", json=BODY).status_code == 202


@pytest.mark.usefixtures("three_operations")
def test_a_token_built_by_the_client_is_a_400(api: httpx.Client) -> None:
    """A client that read the token's format writes its own, pointing where it wants."""
    content, _ = _content(_next_token(api, "/Messages/Operations"))
    forged = _pad(
        json.dumps({**content, "b": "comms_operation_7zzzzzzzzzzzzzzzzzzzzzzzzz"}).encode()
    )

    assert_invalid(api.get("/Messages/Operations", params={"pageToken": forged}), "pageToken")


@pytest.mark.usefixtures("three_operations")
def test_an_altered_token_is_a_400(api: httpx.Client) -> None:
    token = _next_token(api, "/Messages/Operations")
    content, rest = _content(token)
    moved = {**content, "b": content["b"][:-1] + ("0" if content["b"][-1] != "0" else "1")}
    altered = _pad(json.dumps(moved, separators=(",", ":")).encode() + rest)

    assert_invalid(api.get("/Messages/Operations", params={"pageToken": altered}), "pageToken")
    # the token as issued still works
    assert api.get("/Messages/Operations", params={"pageToken": token}).status_code == 200


@pytest.mark.parametrize("path", ["/Messages", "/Messages/Operations", "/Senders"])
def test_a_token_of_another_account_is_a_400(
    server: ThreadServer, api: httpx.Client, path: str
) -> None:
    for _ in range(2):
        assert api.post("/Messages", json=BODY).status_code == 202
    token = _next_token(api, path)
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account(), timeout=30) as other:
        assert_invalid(other.get(path, params={"pageToken": token}), "pageToken")


@pytest.mark.usefixtures("three_operations")
def test_a_token_of_one_list_is_refused_by_another(api: httpx.Client) -> None:
    token = _next_token(api, "/Messages/Operations")

    assert_invalid(api.get("/Messages", params={"pageToken": token}), "pageToken")
    assert_invalid(api.get("/OptOuts", params={"pageToken": token}), "pageToken")


@pytest.mark.usefixtures("three_operations")
def test_a_token_works_on_the_preview_alias_too(server: ThreadServer, api: httpx.Client) -> None:
    token = _next_token(api, "/Messages/Operations")
    with httpx.Client(base_url=server.url + "/preview", auth=api.auth, timeout=30) as preview:
        page = preview.get("/Messages/Operations", params={"pageSize": 1, "pageToken": token})

    assert page.status_code == 200, page.text
    assert len(page.json()["operations"]) == 1
