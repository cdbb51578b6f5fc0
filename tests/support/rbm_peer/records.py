"""What the RBM peer remembers, for a test's assertions: the messages it accepted and
what became of each, every POST by messageId, revocations, tokens, the webhook pushes
and their answers."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import Any

__all__ = ["Accepted", "Phone", "Push", "Records", "Revocation", "Script", "Token"]

QUEUED, DELIVERED, REVOKED, EXPIRED = "queued", "delivered", "revoked", "expired"


@dataclass
class Accepted:
    """An agent message the peer answered 200 to. `state` is queued (held for an offline
    phone or about to be delivered), delivered, revoked or expired."""

    message_id: str
    phone: str
    body: dict[str, Any]
    send_time: str
    expires_at: float | None  # epoch seconds
    state: str = QUEUED
    deliveries: int = 0  # how many times it reached the phone: never more than 1


@dataclass
class Revocation:
    message_id: str
    phone: str
    status: int  # the peer's answer: 200 revoked, 404 delivered or unknown


@dataclass
class Token:
    access_token: str
    client_email: str
    scopes: list[str]
    expires_at: float  # monotonic seconds


@dataclass
class Push:
    """One Pub/Sub push attempt of one event: `status` is the receiver's answer, None when
    the connection failed (`error` says how)."""

    pubsub_id: str
    event: dict[str, Any]
    status: int | None
    error: str | None = None
    body: str = ""


@dataclass
class Script:
    """A scripted answer for the next `times` POSTs to a number (or to any number): an
    error `status`, given before the message is accepted, or after it when
    `after_accept` (the message is kept and delivered, the answer is still the error)."""

    status: int
    times: int
    after_accept: bool = False


@dataclass
class Phone:
    """A user's phone as the peer sees it."""

    online: bool = True
    capable: bool = True
    scripts: list[Script] = field(default_factory=list)


@dataclass
class Records:
    accepted: dict[str, Accepted] = field(default_factory=dict)
    posts: Counter[str] = field(default_factory=Counter)  # messageId → POSTs received
    answers: list[tuple[str, str, int]] = field(default_factory=list)  # (messageId, phone, status)
    revocations: list[Revocation] = field(default_factory=list)
    tokens: list[Token] = field(default_factory=list)
    pushes: list[Push] = field(default_factory=list)
    handshakes: list[tuple[str, int | None, str]] = field(default_factory=list)
