"""The RBM peer's own tests (tests/support/rbm_peer), with httpx and google-auth only: it
refuses what Google's RBM API refuses, accepts what it documents, and calls a webhook
back with events signed by the documented rule, late, duplicated or out of order on
request. No opencomms code is involved, so the peer cannot be shaped to a connector."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from google.auth.transport.requests import Request as GoogleRequest
from google.oauth2 import service_account
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from tests.support.rbm_peer import FORGED, RBM_SCOPE, UNSIGNED, RbmPeer, sign_jwt
from tests.support.rbm_peer.link import HttpLink, LinkError

PHONE = "+12223334444"


@pytest.fixture
def peer(tmp_path: Path) -> Iterator[RbmPeer]:
    with RbmPeer(tmp_path, agent_id="peer-test-agent", min_backoff=0.02, max_backoff=0.1) as peer:
        yield peer


def google_token(peer: RbmPeer, scopes: list[str] | None = None) -> str:
    """A token obtained the way a connector would: google-auth with the key file."""
    credentials = service_account.Credentials.from_service_account_file(
        str(peer.key_file), scopes=scopes or [RBM_SCOPE]
    )
    credentials.refresh(GoogleRequest())
    token: str = credentials.token
    return token


class Api:
    """The RBM API of the peer, as a connector calls it."""

    def __init__(self, peer: RbmPeer, token: str | None) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.peer = peer
        self.client = httpx.Client(base_url=peer.url, headers=headers, timeout=10)

    def send(
        self, body: Any, phone: str = PHONE, message_id: str | None = None, **params: str
    ) -> httpx.Response:
        query = {"messageId": message_id or str(uuid.uuid4()), "agentId": self.peer.agent_id}
        query.update(params)
        content = body if isinstance(body, bytes) else json.dumps(body).encode()
        return self.client.post(
            f"/v1/phones/{phone}/agentMessages",
            params=query,
            content=content,
            headers={"Content-Type": "application/json"},
        )

    def revoke(self, message_id: str, phone: str = PHONE) -> httpx.Response:
        return self.client.delete(
            f"/v1/phones/{phone}/agentMessages/{message_id}",
            params={"agentId": self.peer.agent_id},
        )


@pytest.fixture
def api(peer: RbmPeer) -> Iterator[Api]:
    client = Api(peer, google_token(peer))
    yield client
    client.client.close()


class Receiver:
    """A webhook on a real socket: records each push, answers the handshake with the
    secret, and answers pushes with `statuses` first, then 200."""

    def __init__(self, server: HTTPServer, statuses: list[int] | None = None) -> None:
        self.requests: list[tuple[dict[str, str], bytes]] = []
        self.statuses = list(statuses or [])
        self.lock = threading.Lock()
        server.expect_request("/hook", method="POST").respond_with_handler(self.handle)
        self.url = server.url_for("/hook")

    def handle(self, request: Request) -> Response:
        body = request.get_data()
        payload = json.loads(body)
        if "clientToken" in payload:
            return Response(payload["secret"], status=200)
        with self.lock:
            self.requests.append((dict(request.headers), body))
            status = self.statuses.pop(0) if self.statuses else 200
        return Response("", status=status)

    def pushes(self) -> list[tuple[dict[str, str], dict[str, Any], bytes]]:
        """(headers, envelope, decoded data) of each push received."""
        with self.lock:
            requests = list(self.requests)
        found = []
        for headers, body in requests:
            envelope = json.loads(body)
            found.append((headers, envelope, base64.b64decode(envelope["message"]["data"])))
        return found

    def events(self) -> list[dict[str, Any]]:
        return [json.loads(data) for _, _, data in self.pushes()]


@pytest.fixture
def receiver(httpserver: HTTPServer, peer: RbmPeer) -> Receiver:
    hook = Receiver(httpserver)
    assert peer.register_webhook(hook.url).ok
    return hook


def in_days(days: int, fraction: str = "Z") -> str:
    """An RFC 3339 timestamp `days` from now (`fraction` ends it: "Z" or "123456789Z")."""
    moment = time.gmtime(time.time() + days * 86400)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%S", moment)
    return stamp + ("." + fraction if fraction != "Z" else "Z")


def text(message: str = "Hello") -> dict[str, Any]:
    return {"contentMessage": {"text": message}}


def reply(label: str = "Yes", postback: str = "yes") -> dict[str, Any]:
    return {"reply": {"text": label, "postbackData": postback}}


def card(**extra: Any) -> dict[str, Any]:
    return {"title": "Title", "description": "Description", **extra}


def media(height: str = "MEDIUM") -> dict[str, Any]:
    return {"height": height, "contentInfo": {"fileUrl": "https://example.com/a.png"}}


def carousel(width: str, cards: int, height: str = "SHORT") -> dict[str, Any]:
    contents = [card(media=media(height)) for _ in range(cards)]
    rich = {"carouselCard": {"cardWidth": width, "cardContents": contents}}
    return {"contentMessage": {"richCard": rich}}


def standalone(orientation: str = "VERTICAL", **content: Any) -> dict[str, Any]:
    rich = {"standaloneCard": {"cardOrientation": orientation, "cardContent": content}}
    return {"contentMessage": {"richCard": rich}}


def error_of(response: httpx.Response) -> dict[str, Any]:
    error: dict[str, Any] = response.json()["error"]
    assert error["code"] == response.status_code
    return error


# tokens


def test_a_connector_gets_a_token_with_google_auth_and_the_key_file(peer: RbmPeer) -> None:
    info = json.loads(peer.key_file.read_text())
    assert info["type"] == "service_account"
    assert info["token_uri"] == peer.token_uri
    assert info["private_key"].startswith("-----BEGIN PRIVATE KEY-----")

    token = google_token(peer)

    [issued] = peer.tokens()
    assert issued.access_token == token
    assert issued.client_email == info["client_email"]
    assert RBM_SCOPE in issued.scopes


def grant(peer: RbmPeer, assertion: str, grant_type: str | None = None) -> httpx.Response:
    form = {"grant_type": grant_type or "urn:ietf:params:oauth:grant-type:jwt-bearer"}
    form["assertion"] = assertion
    return httpx.post(peer.token_uri, data=form)


def claims(peer: RbmPeer, **changes: Any) -> dict[str, Any]:
    now = int(time.time())
    base = {
        "iss": peer.account.client_email,
        "scope": RBM_SCOPE,
        "aud": "https://oauth2.googleapis.com/token",
        "iat": now,
        "exp": now + 3600,
    }
    base.update(changes)
    return {key: value for key, value in base.items() if value is not None}


def test_a_hand_made_assertion_to_the_key_s_token_uri_gets_a_token(peer: RbmPeer) -> None:
    header = {"kid": peer.account.private_key_id}
    assertion = sign_jwt(peer.account.private_key, claims(peer, aud=peer.token_uri), header)

    answer = grant(peer, assertion)

    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    assert body["access_token"]


@pytest.mark.parametrize(
    ("changes", "error"),
    [
        ({"aud": "https://example.com/token"}, "invalid_grant"),
        ({"exp": int(time.time()) + 7200}, "invalid_grant"),
        ({"iat": int(time.time()) - 7200, "exp": int(time.time()) - 3600}, "invalid_grant"),
        ({"iss": "someone@else.iam.gserviceaccount.com"}, "invalid_grant"),
        ({"scope": None}, "invalid_scope"),
        ({"scope": "https://www.googleapis.com/auth/not-a-scope"}, "invalid_scope"),
    ],
    ids=["audience", "lifetime-over-an-hour", "expired", "unknown-issuer", "no-scope", "bad-scope"],
)
def test_the_token_endpoint_refuses_a_bad_assertion(
    peer: RbmPeer, changes: dict[str, Any], error: str
) -> None:
    assertion = sign_jwt(peer.account.private_key, claims(peer, **changes))

    answer = grant(peer, assertion)

    assert answer.status_code == 400
    assert answer.json()["error"] == error
    assert peer.tokens() == []


def test_the_token_endpoint_refuses_a_jwt_signed_by_another_key(peer: RbmPeer) -> None:
    header = {"kid": peer.account.private_key_id}
    assertion = sign_jwt(peer.stranger().private_key, claims(peer), header)

    answer = grant(peer, assertion)

    assert answer.status_code == 400
    assert answer.json() == {
        "error": "invalid_grant",
        "error_description": "Invalid JWT Signature.",
    }


def test_the_token_endpoint_refuses_another_grant_and_garbage(peer: RbmPeer) -> None:
    assertion = sign_jwt(peer.account.private_key, claims(peer))

    assert grant(peer, assertion, "client_credentials").json()["error"] == "unsupported_grant_type"
    assert grant(peer, "not.a.jwt").json()["error"] == "invalid_grant"
    assert grant(peer, "").json()["error"] == "invalid_request"
    assert peer.tokens() == []


def test_a_scripted_token_failure_comes_once(peer: RbmPeer) -> None:
    peer.fail_token_requests(503)
    assertion = sign_jwt(peer.account.private_key, claims(peer))

    assert grant(peer, assertion).status_code == 503
    assert grant(peer, assertion).status_code == 200


# authentication of the API


def test_the_api_refuses_a_missing_or_unknown_token(peer: RbmPeer) -> None:
    for token in (None, "ya29.made-up"):
        answer = Api(peer, token).send(text())

        assert answer.status_code == 401
        assert error_of(answer)["status"] == "UNAUTHENTICATED"
        assert answer.headers["WWW-Authenticate"].startswith("Bearer")
    assert peer.messages() == []


def test_the_api_refuses_an_expired_token(peer: RbmPeer) -> None:
    peer.options.token_lifetime = 1
    api = Api(peer, google_token(peer))
    assert api.send(text()).status_code == 200

    time.sleep(1.1)
    answer = api.send(text())

    assert answer.status_code == 401
    assert error_of(answer)["status"] == "UNAUTHENTICATED"
    assert len(peer.messages()) == 1


def test_expired_tokens_can_be_forced(peer: RbmPeer, api: Api) -> None:
    peer.expire_tokens()

    assert api.send(text()).status_code == 401
    assert Api(peer, google_token(peer)).send(text()).status_code == 200


def test_a_token_without_the_rbm_scope_is_not_enough(peer: RbmPeer) -> None:
    token = google_token(peer, ["https://www.googleapis.com/auth/userinfo.email"])

    answer = Api(peer, token).send(text())

    assert answer.status_code == 403
    assert error_of(answer)["status"] == "PERMISSION_DENIED"
    assert peer.messages() == []


def test_a_cloud_platform_token_may_call_the_api(peer: RbmPeer) -> None:
    token = google_token(peer, ["https://www.googleapis.com/auth/cloud-platform"])

    assert Api(peer, token).send(text()).status_code == 200


# the request line


def test_a_wrong_or_missing_agent_id_is_refused(peer: RbmPeer, api: Api) -> None:
    wrong = api.send(text(), agentId="someone-else")
    missing = api.client.post(
        f"/v1/phones/{PHONE}/agentMessages", params={"messageId": str(uuid.uuid4())}, json=text()
    )

    assert wrong.status_code == 403
    assert error_of(wrong)["status"] == "PERMISSION_DENIED"
    assert missing.status_code == 400
    assert peer.messages() == []


def test_an_unknown_query_parameter_is_refused(peer: RbmPeer, api: Api) -> None:
    answer = api.send(text(), requestId=str(uuid.uuid4()))
    fields = api.send(text(), fields="name")

    assert answer.status_code == 400
    assert "Cannot bind query parameter" in error_of(answer)["message"]
    assert fields.status_code == 200
    assert len(peer.messages()) == 1


@pytest.mark.parametrize("phone", ["12223334444", "+0123456", "+1222333444455556", "+1-222-333"])
def test_a_number_not_in_e164_is_refused(peer: RbmPeer, api: Api, phone: str) -> None:
    answer = api.send(text(), phone=phone)

    assert answer.status_code == 400
    assert error_of(answer)["status"] == "INVALID_ARGUMENT"
    assert peer.messages() == []


@pytest.mark.parametrize("message_id", ["", "42", "not-a-uuid"])
def test_a_missing_or_malformed_message_id_is_refused(
    peer: RbmPeer, api: Api, message_id: str
) -> None:
    answer = api.client.post(
        f"/v1/phones/{PHONE}/agentMessages",
        params={"messageId": message_id, "agentId": peer.agent_id},
        json=text(),
    )

    assert answer.status_code == 400
    assert peer.messages() == []


# bodies


CM = "agent_message.contentMessage"
CARD = f"{CM}.richCard.standaloneCard"
CAROUSEL = f"{CM}.richCard.carouselCard"
CALL = {"action": {"text": "Call", "dialAction": {"phoneNumber": PHONE}}}

# id: (body, the field the refusal names)
MALFORMED: dict[str, tuple[Any, str]] = {
    "text-and-card": (
        {"contentMessage": {"text": "hi", **standalone(**card())["contentMessage"]}},
        CM,
    ),
    "no-content": ({"contentMessage": {"suggestions": [reply()]}}, CM),
    "no-content-message": ({"ttl": "10s"}, CM),
    "12-suggestions": (
        {"contentMessage": {"text": "hi", "suggestions": [reply()] * 12}},
        f"{CM}.suggestions",
    ),
    "text-too-long": (text("x" * 3073), f"{CM}.text"),
    "empty-text": (text(""), f"{CM}.text"),
    "suggestion-text-too-long": (
        {"contentMessage": {"text": "hi", "suggestions": [reply("y" * 26)]}},
        f"{CM}.suggestions[0].reply.text",
    ),
    "postback-too-long": (
        {"contentMessage": {"text": "hi", "suggestions": [reply(postback="p" * 2049)]}},
        f"{CM}.suggestions[0].reply.postbackData",
    ),
    "reply-and-action": (
        {"contentMessage": {"text": "hi", "suggestions": [{**reply(), **CALL}]}},
        f"{CM}.suggestions[0]",
    ),
    "action-without-kind": (
        {"contentMessage": {"text": "hi", "suggestions": [{"action": {"text": "Go"}}]}},
        f"{CM}.suggestions[0].action",
    ),
    "dial-not-e164": (
        {
            "contentMessage": {
                "text": "hi",
                "suggestions": [{"action": {"text": "Call", "dialAction": {"phoneNumber": "555"}}}],
            }
        },
        f"{CM}.suggestions[0].action.dialAction.phoneNumber",
    ),
    "carousel-of-1": (carousel("MEDIUM", 1), f"{CAROUSEL}.cardContents"),
    "carousel-of-11": (carousel("MEDIUM", 11), f"{CAROUSEL}.cardContents"),
    "tall-media-in-small-carousel": (
        carousel("SMALL", 2, "TALL"),
        f"{CAROUSEL}.cardContents[0].media.height",
    ),
    "carousel-without-width": (
        {"contentMessage": {"richCard": {"carouselCard": {"cardContents": [card(), card()]}}}},
        f"{CAROUSEL}.cardWidth",
    ),
    "bad-card-width": (carousel("LARGE", 2), f"{CAROUSEL}.cardWidth"),
    "bad-media-height": (
        standalone(**card(media=media("HUGE"))),
        f"{CARD}.cardContent.media.height",
    ),
    "card-title-too-long": (standalone(**card(title="t" * 201)), f"{CARD}.cardContent.title"),
    "card-description-too-long": (
        standalone(**card(description="d" * 2001)),
        f"{CARD}.cardContent.description",
    ),
    "empty-card": (standalone(suggestions=[reply()]), f"{CARD}.cardContent"),
    "5-card-suggestions": (
        standalone(**card(suggestions=[reply()] * 5)),
        f"{CARD}.cardContent.suggestions",
    ),
    "horizontal-card-with-only-media": (standalone("HORIZONTAL", media=media()), CARD),
    "no-orientation": (
        {"contentMessage": {"richCard": {"standaloneCard": {"cardContent": card()}}}},
        f"{CARD}.cardOrientation",
    ),
    "file-url-not-http": (
        {"contentMessage": {"contentInfo": {"fileUrl": "ftp://example.com/a"}}},
        f"{CM}.contentInfo.fileUrl",
    ),
    "uploaded-file-without-name": (
        {"contentMessage": {"uploadedRbmFile": {"thumbnailName": "t"}}},
        f"{CM}.uploadedRbmFile.fileName",
    ),
    "ttl-without-unit": ({**text(), "ttl": "10"}, "agent_message.ttl"),
    "ttl-negative": ({**text(), "ttl": "-5s"}, "agent_message.ttl"),
    "ttl-zero": ({**text(), "ttl": "0s"}, "agent_message.ttl"),
    "ttl-words": ({**text(), "ttl": "ten seconds"}, "agent_message.ttl"),
    "ttl-number": ({**text(), "ttl": 10}, "agent_message.ttl"),
    "ttl-over-15-days": ({**text(), "ttl": "1296001s"}, "agent_message.ttl"),
    "expire-time-over-15-days": (
        {**text(), "expireTime": "2099-01-01T00:00:00Z"},
        "agent_message.expireTime",
    ),
    "ttl-and-expire-time": (
        {**text(), "ttl": "10s", "expireTime": in_days(1)},
        "agent_message",
    ),
    "expire-time-not-rfc3339": ({**text(), "expireTime": "tomorrow"}, "agent_message.expireTime"),
    "expire-time-without-zone": (
        {**text(), "expireTime": "2030-01-01T00:00:00"},
        "agent_message.expireTime",
    ),
    "unknown-top-field": ({**text(), "priority": "HIGH"}, "agent_message"),
    "unknown-nested-field": ({"contentMessage": {"text": "hi", "fallbackText": "hi"}}, CM),
    "snake-case-name": ({"content_message": {"text": "hi"}}, "agent_message"),
    "bad-traffic-type": (
        {**text(), "messageTrafficType": "SPAM"},
        "agent_message.messageTrafficType",
    ),
    "over-250-kb": (
        {"contentMessage": {"contentInfo": {"fileUrl": "https://example.com/" + "a" * 260_000}}},
        "agent_message",
    ),
    "not-an-object": (["contentMessage"], "agent_message"),
}


@pytest.mark.parametrize(("body", "field"), list(MALFORMED.values()), ids=list(MALFORMED))
def test_a_malformed_body_is_refused_and_nothing_is_kept(
    peer: RbmPeer, api: Api, body: Any, field: str
) -> None:
    answer = api.send(body)

    assert answer.status_code == 400, answer.text
    error = error_of(answer)
    assert error["status"] == "INVALID_ARGUMENT"
    [violation] = error["details"][0]["fieldViolations"]
    assert violation["field"] == field, violation
    assert peer.messages() == []


def test_unparsable_json_is_refused(peer: RbmPeer, api: Api) -> None:
    answer = api.send(b'{"contentMessage": {"text": "hi"')

    assert answer.status_code == 400
    assert error_of(answer)["status"] == "INVALID_ARGUMENT"
    assert peer.messages() == []


WELL_FORMED: dict[str, Any] = {
    "text": text("x" * 3072),
    "text-with-11-suggestions": {
        "contentMessage": {
            "text": "Pick one",
            "suggestions": [
                *[reply(f"Option {n}", f"option-{n}") for n in range(9)],
                {
                    "action": {
                        "text": "Call us",
                        "postbackData": "call",
                        "dialAction": {"phoneNumber": PHONE},
                    }
                },
                {
                    "action": {
                        "text": "Open",
                        "postbackData": "open",
                        "openUrlAction": {"url": "https://example.com"},
                    }
                },
            ],
        }
    },
    "vertical-card": standalone(**card(media=media("TALL"), suggestions=[reply()] * 4)),
    "horizontal-card": {
        "contentMessage": {
            "richCard": {
                "standaloneCard": {
                    "cardOrientation": "HORIZONTAL",
                    "thumbnailImageAlignment": "LEFT",
                    "cardContent": card(media=media()),
                }
            }
        }
    },
    "carousel-of-2": carousel("MEDIUM", 2, "TALL"),
    "carousel-of-10": carousel("SMALL", 10, "MEDIUM"),
    "file-url": {
        "contentMessage": {
            "contentInfo": {
                "fileUrl": "https://example.com/a.pdf",
                "thumbnailUrl": "https://example.com/a.png",
                "forceRefresh": False,
            }
        }
    },
    "uploaded-file": {
        "contentMessage": {
            "uploadedRbmFile": {"fileName": "files/abc", "thumbnailName": "files/def"}
        }
    },
    "ttl": {**text(), "ttl": "3.5s"},
    "ttl-15-days": {**text(), "ttl": "1296000s"},
    "expire-time": {**text(), "expireTime": in_days(14, "123456789Z")},
    "traffic-type": {**text(), "messageTrafficType": "TRANSACTION"},
}


@pytest.mark.parametrize("body", list(WELL_FORMED.values()), ids=list(WELL_FORMED))
def test_a_documented_message_is_accepted(peer: RbmPeer, api: Api, body: Any) -> None:
    message_id = str(uuid.uuid4())

    answer = api.send(body, message_id=message_id)

    assert answer.status_code == 200, answer.text
    resource = answer.json()
    assert resource["name"] == f"phones/{PHONE}/agentMessages/{message_id}"
    assert resource["contentMessage"] == body["contentMessage"]
    assert resource["sendTime"].endswith("Z")
    assert ("expireTime" in resource) == ("ttl" in body or "expireTime" in body)
    [kept] = peer.messages()
    assert (kept.message_id, kept.phone, kept.body) == (message_id, PHONE, body)


# outcomes


def test_a_number_that_is_not_rcs_capable_gets_404(peer: RbmPeer, api: Api) -> None:
    peer.unreachable(PHONE)
    message_id = str(uuid.uuid4())

    answer = api.send(text(), message_id=message_id)
    capabilities = api.client.get(
        f"/v1/phones/{PHONE}/capabilities",
        params={"requestId": str(uuid.uuid4()), "agentId": peer.agent_id},
    )

    assert answer.status_code == 404
    assert error_of(answer)["status"] == "NOT_FOUND"
    assert capabilities.status_code == 404
    assert peer.messages() == []
    assert peer.answers(message_id) == [(message_id, PHONE, 404)]


def test_a_capable_number_lists_its_features(peer: RbmPeer, api: Api) -> None:
    answer = api.client.get(
        "/v1/phones/+447700900123/capabilities",
        params={"requestId": str(uuid.uuid4()), "agentId": peer.agent_id},
    )

    assert answer.status_code == 200
    assert "RICHCARD_STANDALONE" in answer.json()["features"]


def test_a_reused_message_id_is_never_queued_again(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    message_id = str(uuid.uuid4())
    assert api.send(text("first"), message_id=message_id).status_code == 200

    again = api.send(text("second"), message_id=message_id)

    assert again.status_code == 409
    assert error_of(again)["status"] == "ALREADY_EXISTS"
    assert peer.posts(message_id) == 2
    peer.wait(lambda: peer.pending_events() == 0 and receiver.events())
    assert [e["messageId"] for e in receiver.events()] == [message_id]
    assert peer.message(message_id).body == text("first")  # type: ignore[union-attr]


def test_a_reused_message_id_may_be_answered_with_the_first_message(
    peer: RbmPeer, api: Api
) -> None:
    peer.options.duplicate_status = 200
    message_id = str(uuid.uuid4())
    first = api.send(text("first"), message_id=message_id)

    again = api.send(text("second"), message_id=message_id)

    assert again.status_code == 200
    assert again.json() == first.json()
    assert len(peer.messages()) == 1
    assert peer.delivered_twice() == []


def test_scripted_errors_come_for_the_first_tries_only(peer: RbmPeer, api: Api) -> None:
    peer.fail(None, 503)
    peer.fail(PHONE, 429, times=2)
    message_id = str(uuid.uuid4())

    other = api.send(text(), phone="+447700900123")
    after = api.send(text(), phone="+447700900123")
    statuses = [api.send(text(), message_id=message_id).status_code for _ in range(3)]

    assert statuses == [429, 429, 200]
    assert (other.status_code, error_of(other)["status"]) == (503, "UNAVAILABLE")
    assert after.status_code == 200
    assert peer.posts(message_id) == 3


def test_a_lost_answer_leaves_the_message_accepted(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.fail(PHONE, 500, after_accept=True)
    message_id = str(uuid.uuid4())

    first = api.send(text(), message_id=message_id)
    retry = api.send(text(), message_id=message_id)

    assert (first.status_code, retry.status_code) == (500, 409)
    peer.wait(receiver.events)
    assert peer.message(message_id).deliveries == 1  # type: ignore[union-attr]


# delivery, revocation, expiry


def test_an_offline_phone_gets_its_messages_when_it_comes_online(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.offline(PHONE)
    ids = [str(uuid.uuid4()) for _ in range(2)]
    for message_id in ids:
        assert api.send(text(), message_id=message_id).status_code == 200
    time.sleep(0.1)
    assert receiver.events() == []
    assert [m.state for m in peer.messages()] == ["queued", "queued"]

    peer.come_online(PHONE)

    peer.wait(lambda: len(receiver.events()) == 2)
    assert sorted(e["messageId"] for e in receiver.events()) == sorted(ids)
    assert peer.delivered_to(PHONE) == ids


def test_a_revoked_message_is_never_delivered(peer: RbmPeer, api: Api, receiver: Receiver) -> None:
    peer.offline(PHONE)
    message_id = str(uuid.uuid4())
    api.send(text(), message_id=message_id)

    revoked = api.revoke(message_id)
    peer.come_online(PHONE)
    time.sleep(0.2)

    assert (revoked.status_code, revoked.json()) == (200, {})
    assert peer.message(message_id).state == "revoked"  # type: ignore[union-attr]
    assert receiver.events() == []
    assert api.revoke(message_id).status_code == 200


def test_a_delivered_or_unknown_message_cannot_be_revoked(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    message_id = str(uuid.uuid4())
    api.send(text(), message_id=message_id)
    peer.wait(receiver.events)

    delivered = api.revoke(message_id)
    unknown = api.revoke(str(uuid.uuid4()))

    assert delivered.status_code == 404
    assert error_of(delivered)["status"] == "NOT_FOUND"
    assert unknown.status_code == 404
    assert [r.status for r in peer.revocations()] == [404, 404]


def test_revoking_needs_a_token_and_the_agent(peer: RbmPeer, api: Api) -> None:
    message_id = str(uuid.uuid4())
    peer.offline(PHONE)
    api.send(text(), message_id=message_id)

    assert Api(peer, None).revoke(message_id).status_code == 401
    assert api.client.delete(f"/v1/phones/{PHONE}/agentMessages/{message_id}").status_code == 400
    assert peer.message(message_id).state == "queued"  # type: ignore[union-attr]


def test_a_held_message_past_its_ttl_expires_and_is_never_delivered(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.offline(PHONE)
    message_id = str(uuid.uuid4())
    api.send({**text(), "ttl": "0.2s"}, message_id=message_id)

    peer.wait(receiver.events)
    peer.come_online(PHONE)
    time.sleep(0.1)

    [expired] = receiver.events()
    assert expired["eventType"] == "TTL_EXPIRATION_REVOKED"
    assert (expired["messageId"], expired["phoneNumber"]) == (message_id, PHONE)
    assert peer.message(message_id).state == "expired"  # type: ignore[union-attr]
    assert peer.delivered_to(PHONE) == []


# webhooks


def test_events_are_pubsub_pushes_signed_with_the_client_token(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    message_id = str(uuid.uuid4())
    api.send(text(), message_id=message_id)

    peer.wait(receiver.pushes)

    [(headers, envelope, data)] = receiver.pushes()
    expected = hmac.new(peer.client_token.encode(), data, hashlib.sha512).digest()
    assert base64.b64decode(headers["X-Goog-Signature"]) == expected
    assert envelope["subscription"].startswith("projects/")
    assert envelope["message"]["messageId"] and envelope["message"]["publishTime"]
    event = json.loads(data)
    assert event["eventType"] == "DELIVERED"
    assert (event["messageId"], event["senderPhoneNumber"]) == (message_id, PHONE)
    assert event["agentId"] == peer.agent_id
    assert event["eventId"] and event["sendTime"]


def test_a_webhook_answering_500_gets_the_event_again(
    httpserver: HTTPServer, peer: RbmPeer, api: Api
) -> None:
    hook = Receiver(httpserver, statuses=[500, 503])
    peer.set_webhook(hook.url)

    api.send(text())

    peer.wait(lambda: peer.pending_events() == 0 and len(hook.pushes()) == 3)
    ids = {envelope["message"]["messageId"] for _, envelope, _ in hook.pushes()}
    assert len(ids) == 1
    assert [p.status for p in peer.pushes()] == [500, 503, 200]


def test_events_wait_for_a_webhook(peer: RbmPeer, api: Api, httpserver: HTTPServer) -> None:
    api.send(text())
    time.sleep(0.1)
    assert peer.pending_events() == 1

    hook = Receiver(httpserver)
    peer.set_webhook(hook.url)

    peer.wait(hook.events)
    assert peer.pending_events() == 0


def test_the_handshake_needs_the_secret_echoed(peer: RbmPeer, httpserver: HTTPServer) -> None:
    httpserver.expect_request("/wrong", method="POST").respond_with_data("nope")

    handshake = peer.register_webhook(httpserver.url_for("/wrong"), secret="s3cret")

    assert (handshake.ok, handshake.status, handshake.body) == (False, 200, "nope")
    [(_, status, _)] = peer.records.handshakes
    assert status == 200


def test_a_user_message_is_pushed_signed(peer: RbmPeer, receiver: Receiver) -> None:
    peer.push_user_message(PHONE, "STOP")
    peer.push_user_message(PHONE, suggestion=("Yes", "yes-postback"))

    peer.wait(lambda: len(receiver.pushes()) == 2)

    stop, tapped = sorted(receiver.events(), key=lambda e: "text" not in e)
    assert (stop["text"], stop["senderPhoneNumber"], stop["agentId"]) == (
        "STOP",
        PHONE,
        peer.agent_id,
    )
    assert stop["messageId"] and stop["sendTime"]
    assert tapped["suggestionResponse"] == {
        "postbackData": "yes-postback",
        "text": "Yes",
        "type": "REPLY",
    }
    for headers, _, data in receiver.pushes():
        assert (
            headers["X-Goog-Signature"]
            == base64.b64encode(
                hmac.new(peer.client_token.encode(), data, hashlib.sha512).digest()
            ).decode()
        )


def test_forged_and_unsigned_events_do_not_verify(peer: RbmPeer, receiver: Receiver) -> None:
    event = peer.user_event(PHONE, "READ", str(uuid.uuid4()))
    peer.push_event(event, signing=FORGED)
    peer.push_event(event, signing=UNSIGNED)

    peer.wait(lambda: len(receiver.pushes()) == 2)

    signatures = [headers.get("X-Goog-Signature") for headers, _, _ in receiver.pushes()]
    [data] = {data for _, _, data in receiver.pushes()}
    genuine = base64.b64encode(hmac.new(peer.client_token.encode(), data, hashlib.sha512).digest())
    assert None in signatures
    assert genuine.decode() not in signatures


def test_duplicated_events_repeat_the_same_message(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.duplicate_events(3)

    api.send(text())

    peer.wait(lambda: len(receiver.pushes()) == 3)
    assert len({envelope["message"]["messageId"] for _, envelope, _ in receiver.pushes()}) == 1
    assert len({event["eventId"] for event in receiver.events()}) == 1
    assert len(peer.delivered_to(PHONE)) == 1


def test_read_can_come_before_delivered(peer: RbmPeer, api: Api, receiver: Receiver) -> None:
    peer.options.read = True
    peer.options.read_first = True

    api.send(text())

    peer.wait(lambda: len(receiver.events()) == 2)
    assert [e["eventType"] for e in receiver.events()] == ["READ", "DELIVERED"]


def test_read_follows_delivered_by_default_when_asked(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.options.read = True

    api.send(text())

    peer.wait(lambda: len(receiver.events()) == 2)
    assert [e["eventType"] for e in receiver.events()] == ["DELIVERED", "READ"]


def test_held_events_come_late_and_in_reverse_when_released(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.hold_events()
    ids = [str(uuid.uuid4()) for _ in range(3)]
    for message_id in ids:
        api.send(text(), message_id=message_id)
    peer.wait(lambda: len(peer.delivered_to(PHONE)) == 3)
    time.sleep(0.1)
    assert receiver.events() == []

    assert peer.release_events(reverse=True) == 3

    peer.wait(lambda: len(receiver.events()) == 3)
    delivered_order = peer.delivered_to(PHONE)
    assert [e["messageId"] for e in receiver.events()] == delivered_order[::-1]


def test_delivered_can_be_pushed_before_the_answer(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    peer.options.events_before_answer = True
    message_id = str(uuid.uuid4())

    answer = api.send(text(), message_id=message_id)

    assert answer.status_code == 200
    assert [e["messageId"] for e in receiver.events()] == [message_id]


def test_a_thousand_messages_are_accepted_and_acknowledged(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    started = time.monotonic()
    for n in range(1000):
        assert api.send(text(f"message {n}"), phone=f"+1555{n:07d}").status_code == 200

    peer.wait(lambda: peer.pending_events() == 0 and len(receiver.events()) == 1000)

    assert peer.delivered_twice() == []
    by_phone = peer.delivered_by_phone()
    assert len(by_phone) == 1000
    assert all(len(ids) == 1 for ids in by_phone.values())
    assert time.monotonic() - started < 60


def test_an_expire_time_already_past_means_no_delivery(
    peer: RbmPeer, api: Api, receiver: Receiver
) -> None:
    message_id = str(uuid.uuid4())

    answer = api.send({**text(), "expireTime": "2020-01-01T00:00:00Z"}, message_id=message_id)

    assert answer.status_code == 200
    assert answer.json()["expireTime"].startswith("2020-01-01T00:00:00")
    peer.wait(receiver.events)
    assert [e["eventType"] for e in receiver.events()] == ["TTL_EXPIRATION_REVOKED"]
    assert peer.delivered_to(PHONE) == []


def test_raw_data_is_pushed_signed(peer: RbmPeer, receiver: Receiver) -> None:
    peer.push_raw(b"not json at all")

    peer.wait(receiver.pushes)

    [(headers, _, data)] = receiver.pushes()
    assert data == b"not json at all"
    signature = hmac.new(peer.client_token.encode(), data, hashlib.sha512).digest()
    assert headers["X-Goog-Signature"] == base64.b64encode(signature).decode()


def test_a_push_is_given_up_after_the_retention_period(
    tmp_path: Path, httpserver: HTTPServer
) -> None:
    hook = Receiver(httpserver, statuses=[500] * 1000)
    with RbmPeer(tmp_path, min_backoff=0.02, max_backoff=0.05, retry_for=0.3) as peer:
        peer.set_webhook(hook.url)
        peer.push_user_message(PHONE, "hello")

        peer.wait(lambda: peer.pending_events() == 0)

        attempts = len(hook.pushes())
        time.sleep(0.2)
        assert len(hook.pushes()) == attempts > 2


def test_the_capability_check_wants_a_request_id(peer: RbmPeer, api: Api) -> None:
    answer = api.client.get(
        f"/v1/phones/{PHONE}/capabilities", params={"requestId": "x", "agentId": peer.agent_id}
    )

    assert answer.status_code == 400


# the pushes' HTTP link


async def serve_answers(answers: list[bytes]) -> tuple[asyncio.Server, str, list[bytes]]:
    """A raw HTTP server answering each request with the next of `answers` (then closing
    the connection when the answer says so)."""
    requests: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while answers:
            head = await reader.readuntil(b"\r\n\r\n")
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            requests.append(head + await reader.readexactly(length))
            answer = answers.pop(0)
            writer.write(answer)
            await writer.drain()
            if b"close" in answer.lower():
                break
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    return server, f"http://127.0.0.1:{port}/hook?x=1", requests


async def test_the_link_reads_sized_chunked_and_close_delimited_answers() -> None:
    server, url, requests = await serve_answers(
        [
            b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
            b"HTTP/1.1 500 Oops\r\nTransfer-Encoding: chunked\r\n\r\n"
            b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n",
            b"HTTP/1.1 204 No Content\r\nConnection: close\r\n\r\n",
        ]
    )
    link = HttpLink()
    async with server:
        answers = [
            await link.post(url, b'{"a": 1}', {"X-Goog-Signature": "s"}, 5) for _ in range(3)
        ]

    assert answers == [(200, b"ok"), (500, b"abcde"), (204, b"")]
    assert requests[0].startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"X-Goog-Signature: s\r\n" in requests[0] and requests[0].endswith(b'{"a": 1}')


async def test_the_link_reconnects_when_the_server_closed_it() -> None:
    connections = 0

    async def one_answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal connections
        connections += 1
        await reader.readuntil(b"\r\n\r\n")
        await reader.readexactly(2)
        writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n")
        await writer.drain()
        writer.close()  # as a server closing an idle keep-alive connection

    server = await asyncio.start_server(one_answer, "127.0.0.1", 0)
    url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/hook"
    link = HttpLink()
    async with server:
        answers = [await link.post(url, b"{}", {}, 5) for _ in range(3)]

    assert answers == [(200, b"")] * 3
    assert connections == 3
    with pytest.raises(LinkError):
        await link.post(url, b"{}", {}, 1)  # nobody listens any more


def test_a_revocation_may_race_the_delivery(peer: RbmPeer, api: Api, receiver: Receiver) -> None:
    peer.options.revoke_race = True
    peer.offline(PHONE)
    message_id = str(uuid.uuid4())
    api.send(text(), message_id=message_id)

    revoked = api.revoke(message_id)

    assert revoked.status_code == 200
    peer.wait(receiver.events)
    assert [(e["eventType"], e["messageId"]) for e in receiver.events()] == [
        ("DELIVERED", message_id)
    ]
    assert peer.delivered_to(PHONE) == [message_id]


def test_an_expiry_may_fail_to_revoke(peer: RbmPeer, api: Api, receiver: Receiver) -> None:
    peer.options.revoke_race = True
    peer.offline(PHONE)
    message_id = str(uuid.uuid4())
    api.send({**text(), "ttl": "0.1s"}, message_id=message_id)

    peer.wait(lambda: len(receiver.events()) == 2)

    types = sorted(e["eventType"] for e in receiver.events())
    assert types == ["DELIVERED", "TTL_EXPIRATION_REVOKE_FAILED"]
    assert peer.delivered_to(PHONE) == [message_id]


def test_scripted_failures_can_be_cleared(peer: RbmPeer, api: Api) -> None:
    peer.fail(None, 503, times=100)
    peer.fail(PHONE, 429, times=100)
    assert api.send(text()).status_code == 429

    peer.clear_failures()

    assert api.send(text()).status_code == 200


def test_answers_can_be_slow(peer: RbmPeer, api: Api) -> None:
    peer.options.answer_delay = 0.3
    started = time.monotonic()

    assert api.send(text()).status_code == 200

    assert time.monotonic() - started >= 0.3


@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/v1/phone/+1222/agentMessages"), ("GET", f"/v1/phones/{PHONE}/agentMessages")],
)
def test_an_unknown_url_or_method_is_an_html_404(api: Api, method: str, path: str) -> None:
    answer = api.client.request(method, path)

    assert answer.status_code == 404
    assert answer.headers["content-type"].startswith("text/html")


# the ways a test uses the peer


async def test_an_async_test_serves_the_webhook_on_its_own_loop(peer: RbmPeer) -> None:
    received: list[bytes] = []

    async def webhook(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        while not reader.at_eof():
            try:
                head = await reader.readuntil(b"\r\n\r\n")
            except asyncio.IncompleteReadError:
                break
            length = int(head.lower().split(b"content-length: ")[1].split(b"\r\n")[0])
            body = json.loads(await reader.readexactly(length))
            answer = body.get("secret", "").encode()
            if "message" in body:
                received.append(base64.b64decode(body["message"]["data"]))
            writer.write(b"HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s" % (len(answer), answer))
            await writer.drain()
        writer.close()

    server = await asyncio.start_server(webhook, "127.0.0.1", 0)
    async with server:
        url = f"http://127.0.0.1:{server.sockets[0].getsockname()[1]}/webhooks/rbm"
        assert (await peer.aregister_webhook(url)).ok
        peer.push_user_message(PHONE, "START")

        await peer.until(lambda: received)

    assert json.loads(received[0])["text"] == "START"


def test_another_process_gets_a_token_and_sends(peer: RbmPeer) -> None:
    script = f"""
import json, uuid, httpx
from google.oauth2 import service_account
from google.auth.transport.requests import Request
credentials = service_account.Credentials.from_service_account_file(
    {str(peer.key_file)!r}, scopes=[{RBM_SCOPE!r}])
credentials.refresh(Request())
answer = httpx.post({peer.url!r} + "/v1/phones/{PHONE}/agentMessages",
    params={{"messageId": str(uuid.uuid4()), "agentId": {peer.agent_id!r}}},
    json={{"contentMessage": {{"text": "from afar"}}}},
    headers={{"Authorization": "Bearer " + credentials.token}})
print(answer.status_code)
"""
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )

    assert done.stdout.strip() == "200", done.stderr
    [message] = peer.messages()
    assert message.body == text("from afar")
