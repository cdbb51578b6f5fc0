"""The RBM platform the peer plays: tokens, the phones, the queue of agent messages and
what happens to them (delivery, expiry, revocation), and the events that follow.

Everything here runs on the peer's event loop except the reads and settings a test
makes from its own thread, which take `lock`.
"""

from __future__ import annotations

import asyncio
import secrets
import threading
import time
from collections import defaultdict
from dataclasses import dataclass
from typing import Any

from tests.support.rbm_peer.keys import JWT_BEARER, GrantError, ServiceAccount, verify_assertion
from tests.support.rbm_peer.records import (
    DELIVERED,
    EXPIRED,
    QUEUED,
    REVOKED,
    Accepted,
    Phone,
    Revocation,
    Script,
    Token,
)
from tests.support.rbm_peer.schema import expiry
from tests.support.rbm_peer.webhooks import Pusher, now_rfc3339

__all__ = ["RBM_SCOPE", "Options", "Platform"]

RBM_SCOPE = "https://www.googleapis.com/auth/rcsbusinessmessaging"
CLOUD_SCOPE = "https://www.googleapis.com/auth/cloud-platform"
# scopes the token endpoint grants (any other is invalid_scope); only the first two let
# a token call the RBM API
KNOWN_SCOPES = {RBM_SCOPE, CLOUD_SCOPE, "https://www.googleapis.com/auth/userinfo.email"}
FEATURES = [
    "REVOCATION",
    "RICHCARD_STANDALONE",
    "RICHCARD_CAROUSEL",
    "ACTION_CREATE_CALENDAR_EVENT",
    "ACTION_DIAL",
    "ACTION_OPEN_URL",
    "ACTION_SHARE_LOCATION",
    "ACTION_VIEW_LOCATION",
]


@dataclass
class Options:
    """How the platform behaves; a test may change these at any time."""

    token_lifetime: int = 3600  # seconds, the access tokens' expires_in
    delivery_delay: float = 0.0  # seconds from accept (or coming online) to DELIVERED
    read: bool = False  # a READ event follows each DELIVERED
    read_first: bool = False  # ... and is pushed before it (out of order)
    events_before_answer: bool = False  # DELIVERED is pushed before the POST is answered
    expiry_events: bool = True  # TTL_EXPIRATION_REVOKED when a held message expires
    duplicate_status: int = 409  # the answer to a messageId already used: 409 or 200
    answer_delay: float = 0.0  # seconds each send waits before it is answered
    revoke_race: bool = False  # revocations (and expiries) fail: the message is delivered


def _event_id(prefix: str) -> str:
    return prefix + secrets.token_urlsafe(16)


class Platform:
    def __init__(self, agent_id: str, token_uri: str, pusher: Pusher, lock: threading.RLock):
        self.agent_id = agent_id
        self.token_uri = token_uri
        self.pusher = pusher
        self.lock = lock
        self.options = Options()
        self.records = pusher.records
        self.phones: defaultdict[str, Phone] = defaultdict(Phone)
        self.any_number: list[Script] = []
        self.accounts: dict[str, ServiceAccount] = {}
        self.tokens: dict[str, Token] = {}
        self.token_scripts: list[Script] = []
        self.loop: asyncio.AbstractEventLoop | None = None

    # tokens

    def grant(self, form: dict[str, str]) -> dict[str, Any]:
        """The token endpoint's answer to a JWT-bearer grant; `GrantError` if refused."""
        if form.get("grant_type") != JWT_BEARER:
            grant_type = form.get("grant_type", "")
            raise GrantError("unsupported_grant_type", f"Invalid grant_type: {grant_type}")
        if not form.get("assertion"):
            raise GrantError("invalid_request", "Missing required parameter: assertion")
        account, scopes = verify_assertion(
            form["assertion"], self.accounts, self.token_uri, time.time()
        )
        if not set(scopes) <= KNOWN_SCOPES:
            raise GrantError("invalid_scope", "Invalid OAuth scope or ID token audience provided.")
        lifetime = self.options.token_lifetime
        token = Token(
            "ya29.peer-" + secrets.token_urlsafe(24),
            account.client_email,
            scopes,
            time.monotonic() + lifetime,
        )
        with self.lock:
            self.tokens[token.access_token] = token
            self.records.tokens.append(token)
        return {"access_token": token.access_token, "expires_in": lifetime, "token_type": "Bearer"}

    def take_token_script(self) -> Script | None:
        return _take(self.token_scripts)

    def authorize(self, header: str | None) -> tuple[int, str] | None:
        """None when `header` carries a live token with the RBM scope, else the refusal."""
        if not header or not header.startswith("Bearer "):
            return 401, (
                "Request is missing required authentication credential. Expected OAuth 2 "
                "access token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project."
            )
        token = self.tokens.get(header.removeprefix("Bearer ").strip())
        if token is None or token.expires_at <= time.monotonic():
            return 401, (
                "Request had invalid authentication credentials. Expected OAuth 2 access "
                "token, login cookie or other valid authentication credential. See "
                "https://developers.google.com/identity/sign-in/web/devconsole-project."
            )
        if RBM_SCOPE not in token.scopes and CLOUD_SCOPE not in token.scopes:
            return 403, "Request had insufficient authentication scopes."
        return None

    # agent messages

    def take_script(self, phone: str) -> Script | None:
        return _take(self.phones[phone].scripts) or _take(self.any_number)

    def capable(self, phone: str) -> bool:
        return self.phones[phone].capable

    def known(self, message_id: str) -> Accepted | None:
        return self.records.accepted.get(message_id)

    def accept(self, phone: str, message_id: str, body: dict[str, Any]) -> Accepted:
        """Queue a validated message for `phone` and schedule what happens to it."""
        now = time.time()
        message = Accepted(message_id, phone, body, now_rfc3339(now), expiry(body, now))
        with self.lock:
            self.records.accepted[message_id] = message
        assert self.loop is not None
        if message.expires_at is not None:
            self.loop.call_later(max(0.0, message.expires_at - now), self.expire, message_id)
        if self.phones[phone].online and not self.options.events_before_answer:
            self.loop.call_later(self.options.delivery_delay, self.deliver, message_id)
        return message

    def resource(self, message: Accepted) -> dict[str, Any]:
        """The AgentMessage the API answers with once `message` is accepted."""
        answer: dict[str, Any] = {
            "name": f"phones/{message.phone}/agentMessages/{message.message_id}",
            "sendTime": message.send_time,
            "contentMessage": message.body["contentMessage"],
        }
        if "messageTrafficType" in message.body:
            answer["messageTrafficType"] = message.body["messageTrafficType"]
        if message.expires_at is not None:
            answer["expireTime"] = now_rfc3339(message.expires_at)
        return answer

    def deliver(self, message_id: str, anyway: bool = False) -> list[dict[str, Any]]:
        """Deliver a queued message if its phone is online (or `anyway`); its events are
        queued for the webhook, and returned (one step under the lock, so that a message
        is never seen delivered before its events are pending)."""
        with self.lock:
            events = self.reach(message_id, anyway)
            if events:
                self.pusher.publish(events, ordered=len(events) > 1)
        return events

    def reach(self, message_id: str, anyway: bool = False) -> list[dict[str, Any]]:
        """Mark a queued message delivered (if its phone is online, or `anyway`, and it
        has not expired); the events that tell the agent, not yet published."""
        message = self.records.accepted[message_id]
        if message.state != QUEUED or not (anyway or self.phones[message.phone].online):
            return []
        if not anyway and message.expires_at is not None and message.expires_at <= time.time():
            self.expire(message_id)
            return []
        with self.lock:
            message.state = DELIVERED
            message.deliveries += 1
        events = [self.user_event(message.phone, "DELIVERED", message_id)]
        if self.options.read:
            read = self.user_event(message.phone, "READ", message_id)
            events = [read, *events] if self.options.read_first else [*events, read]
        return events

    def expire(self, message_id: str) -> None:
        """A held message reaches its expiry: revoked (TTL_EXPIRATION_REVOKED), or, when
        revocations race deliveries, delivered (TTL_EXPIRATION_REVOKE_FAILED first)."""
        with self.lock:
            message = self.records.accepted[message_id]
            if message.state != QUEUED:
                return
            if self.options.revoke_race:
                self._server_event(message, "TTL_EXPIRATION_REVOKE_FAILED")
                self.deliver(message_id, anyway=True)
                return
            message.state = EXPIRED
            self._server_event(message, "TTL_EXPIRATION_REVOKED")

    def _server_event(self, message: Accepted, event_type: str) -> None:
        if self.options.expiry_events:
            event = {
                "phoneNumber": message.phone,
                "messageId": message.message_id,
                "agentId": self.agent_id,
                "eventType": event_type,
                "eventId": _event_id("Ms"),
                "sendTime": now_rfc3339(),
            }
            self.pusher.publish([event])

    def revoke(self, phone: str, message_id: str) -> int:
        """200 when the message is (now) revoked, 404 when delivered or unknown."""
        message = self.records.accepted.get(message_id)
        status = 404
        if message is not None and message.phone == phone and message.state != DELIVERED:
            status = 200
            if message.state == QUEUED and self.options.revoke_race:
                # "the agent receives a DELIVERED user event shortly after" (the docs)
                assert self.loop is not None
                self.loop.call_soon(self.deliver, message_id, True)
            elif message.state == QUEUED:
                with self.lock:
                    message.state = REVOKED
        with self.lock:
            self.records.revocations.append(Revocation(message_id, phone, status))
        return status

    def come_online(self, phone: str) -> None:
        """The phone connects: its queued messages are delivered, oldest first."""
        self.phones[phone].online = True
        waiting = [
            message.message_id
            for message in list(self.records.accepted.values())
            if message.phone == phone and message.state == QUEUED
        ]
        assert self.loop is not None
        for message_id in waiting:
            self.loop.call_later(self.options.delivery_delay, self.deliver, message_id)

    # events

    def user_event(self, phone: str, event_type: str, message_id: str) -> dict[str, Any]:
        return {
            "senderPhoneNumber": phone,
            "eventType": event_type,
            "eventId": _event_id("Mx"),
            "messageId": message_id,
            "sendTime": now_rfc3339(),
            "agentId": self.agent_id,
        }

    def user_message(
        self, phone: str, text: str | None = None, suggestion: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        message: dict[str, Any] = {
            "senderPhoneNumber": phone,
            "messageId": _event_id("Ms"),
            "sendTime": now_rfc3339(),
            "agentId": self.agent_id,
        }
        if suggestion is not None:
            reply_text, postback = suggestion
            message["suggestionResponse"] = {
                "postbackData": postback,
                "text": reply_text,
                "type": "REPLY",
            }
        else:
            message["text"] = text or ""
        return message


def _take(scripts: list[Script]) -> Script | None:
    if not scripts:
        return None
    script = scripts[0]
    script.times -= 1
    if script.times <= 0:
        scripts.pop(0)
    return script
