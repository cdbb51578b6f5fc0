"""The rbm connector's contract: its cases, run against the RBM test peer over HTTP.

The peer's answers are HTTP statuses of `phones.agentMessages.create` (scripted on the
peer, or its own: 200 when it takes a message, 404 for a number that is not
RCS-capable); its reports are Pub/Sub pushes of RBM events and user messages to the
connector's webhook, hosted on the real `/webhooks/{name}` route, and the webhook
registration handshake. A taken message is delivered by the peer at once, so every
accepted case also hears its DELIVERED receipt.
"""

from __future__ import annotations

import asyncio
import tempfile
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import msgspec

from opencomms.connectors.base import (
    Inbound,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitOutcome,
    SubmitResult,
)
from opencomms.connectors.rbm import RbmConfig, RbmConnector
from opencomms.connectors.rbm.connector import message_id_for
from opencomms.connectors.rbm.errors import ANSWERS, EVENTS
from tests.connectors.contract.cases import (
    ATTEMPT,
    SUBMISSION,
    Contract,
    EarlyReceiptCase,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
)
from tests.support.rbm_peer import FORGED, UNSIGNED, RbmPeer
from tests.support.webhook_host import hosting_webhooks

__all__ = ["RBM"]

NAME = "rbm-contract"
AGENT = "contract_agent"
CLIENT_TOKEN = "rbm-contract-client-token-Zq81"
BACKOFF_MS = 50
PHONE = SUBMISSION.to_address
MESSAGE_ID = message_id_for(ATTEMPT)
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome


@dataclass(frozen=True)
class RbmAnswer:
    """The peer's answer to one send: 200 takes it; 404 is the peer's own (the number
    is not RCS-capable); any other status is scripted, with Google's error body."""

    status: int = 200


@dataclass(frozen=True)
class RbmEvent:
    """An event RBM pushes: a UserEvent, or a ServerEvent (TTL_EXPIRATION_*)."""

    event_type: str
    message_id: str = "m-1"
    event_id: str = "e-1"
    signing: str = ""  # FORGED: signed with another token; UNSIGNED: no header


@dataclass(frozen=True)
class RbmUserMessage:
    """A user's text, or a tapped suggestion (text, postbackData)."""

    text: str | None = None
    suggestion: tuple[str, str] | None = None
    message_id: str = "u-1"


@dataclass(frozen=True)
class RbmHandshake:
    """The webhook registration; `client_token` None: the agent's own."""

    client_token: str | None = None


@dataclass(frozen=True)
class PeerDelivery:
    """The DELIVERED the peer pushes by itself for the message it was sent."""


class RbmContractPeer:
    """The RBM test peer, answering sends as declared and pushing reports to the
    connector's webhook as RBM does."""

    def __init__(self, peer: RbmPeer, webhook_url: str) -> None:
        self._peer = peer
        self._url = webhook_url
        self._declared: dict[str, list[int]] = {}
        self._pushed: Counter[str] = Counter()
        self._answered: list[int] = []
        self._refused = 0  # pushes refused: the peer tries them again, never settled

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        phone = submission.to_address
        for answer in answers:
            assert isinstance(answer, RbmAnswer), "an rbm answer is an RbmAnswer"
            self._declared.setdefault(phone, []).append(answer.status)
            if answer.status == 404:
                self._peer.unreachable(phone)
            elif answer.status != 200:
                self._peer.fail(phone, answer.status)
        return submission

    async def push(self, report: object) -> bool:
        if isinstance(report, RbmHandshake):
            return await self._handshake(report)
        if isinstance(report, PeerDelivery):
            [push] = await self._peer.until(lambda: self._peer.pushes("DELIVERED"), 10)
            return self._heard(push.status)
        if isinstance(report, RbmEvent):
            event, key, signing = _event(report), report.event_id, report.signing
        elif isinstance(report, RbmUserMessage):
            event, key, signing = _user_message(report), report.message_id, ""
        else:
            raise TypeError(f"not an rbm report: {report!r}")
        before = self._pushed[key]
        self._pushed[key] += 1
        await asyncio.to_thread(self._peer.push_event, event, signing)
        pushes = await self._peer.until(lambda: self._pushes_of(key)[before:], 10)
        return self._heard(pushes[0].status)

    def answered(self) -> list[int]:
        return list(self._answered)

    async def settle(self) -> None:
        """Every message taken is delivered, and every push but the refused ones
        acknowledged."""
        peer = self._peer
        await peer.until(
            lambda: not peer.messages("queued") and peer.pending_events() <= self._refused, 10
        )

    def unused(self) -> list[str]:
        return [f"{status} to {phone}" for phone, status in self._compare()[0]]

    def unexpected(self) -> list[str]:
        return [f"a send to {phone} (answered {status})" for phone, status in self._compare()[1]]

    # early receipts: the peer pushes DELIVERED before it answers the send

    def hold(self) -> None:
        self._peer.options.events_before_answer = True

    async def held(self) -> None:
        await self._peer.until(lambda: self._peer.pushes("DELIVERED"), 10)

    def release(self) -> None:
        self._peer.options.events_before_answer = False

    # ---

    async def _handshake(self, report: RbmHandshake) -> bool:
        own = self._peer.client_token
        if report.client_token is not None:
            self._peer.client_token = report.client_token
        try:
            answer = await self._peer.aregister_webhook(self._url)
        finally:
            self._peer.client_token = own
        self._answered.append(answer.status or 0)
        return answer.ok

    def _heard(self, status: int | None) -> bool:
        self._answered.append(status or 0)
        if status != 200:
            self._refused += 1
        return status == 200

    def _pushes_of(self, key: str) -> list[Any]:
        """The pushes of the event (by eventId) or user message (by messageId) `key`."""
        return [
            push
            for push in self._peer.pushes()
            if push.event.get("eventId", push.event.get("messageId")) == key
        ]

    def _compare(self) -> tuple[list[tuple[str, int]], list[tuple[str, int]]]:
        """(declared and not asked for, asked for and not declared) by phone."""
        actual: dict[str, list[int]] = {}
        for _, phone, status in self._peer.answers():
            actual.setdefault(phone, []).append(status)
        unused, unexpected = [], []
        for phone in set(actual) | set(self._declared):
            declared, got = self._declared.get(phone, []), actual.get(phone, [])
            if got != declared[: len(got)]:
                unused += [(phone, status) for status in declared]
                unexpected += [(phone, status) for status in got]
                continue
            unused += [(phone, status) for status in declared[len(got) :]]
        return unused, unexpected


def _event(report: RbmEvent) -> dict[str, Any]:
    phone_field = "phoneNumber" if report.event_type.startswith("TTL_") else "senderPhoneNumber"
    return {
        phone_field: "+14155550123",
        "eventType": report.event_type,
        "eventId": report.event_id,
        "messageId": report.message_id,
        "sendTime": "2026-12-07T02:00:00.000000Z",
        "agentId": AGENT,
    }


def _user_message(report: RbmUserMessage) -> dict[str, Any]:
    message: dict[str, Any] = {
        "senderPhoneNumber": "+14155550123",
        "messageId": report.message_id,
        "sendTime": "2026-12-07T02:00:00.000000Z",
        "agentId": AGENT,
    }
    if report.suggestion is not None:
        text, postback = report.suggestion
        message["suggestionResponse"] = {"postbackData": postback, "text": text, "type": "REPLY"}
    else:
        message["text"] = report.text
    return message


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    with tempfile.TemporaryDirectory() as directory, RbmPeer(Path(directory), AGENT) as peer:
        peer.client_token = CLIENT_TOKEN
        config = RbmConfig(
            agent_id=AGENT,
            service_account_file=str(peer.key_file),
            client_token=CLIENT_TOKEN,
            base_url=peer.url,
            request_timeout="5s",
        )
        connector = RbmConnector(NAME, config)
        connector.backoff_min = BACKOFF_MS / 1000
        private_key = config.service_account()["private_key"]
        await connector.start(receipts, inbound)
        try:
            async with hosting_webhooks({NAME: connector}) as base_url:
                url = f"{base_url}/webhooks/{NAME}"
                peer.set_webhook(url)
                contract_peer = RbmContractPeer(peer, url)
                yield Rig(connector, contract_peer, config, secrets=(CLIENT_TOKEN, private_key))
        finally:
            await connector.close()


def _rejected(code: int, message: str) -> SubmitResult:
    return SubmitResult(ATTEMPT, REJECTED, error_code=code, error_message=message)


def _sent(submission: Submission = SUBMISSION, **changes: Any) -> Submission:
    return msgspec.structs.replace(submission, channel="RCS", from_address=AGENT, **changes)


RCS = _sent()
# the event on a message this connector sent names our attempt as well as RBM's id
DELIVERED = Receipt("DELIVERED", attempt_id=ATTEMPT, provider_message_id=MESSAGE_ID)
TAKEN = SubmitResult(ATTEMPT, ACCEPTED, MESSAGE_ID)
IMAGE = "https://cdn.example.com/parcel.png"
REPLY = {"reply": {"text": "Track it", "postbackData": "track"}}
CARD = {"title": "Your parcel", "description": "Arrives today", "media": {"url": IMAGE}}


def _accepted(label: str, content: dict[str, Any], valid_for_ms: int = 0) -> SubmitCase:
    return SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label=label,
        submission=_sent(content=content, valid_for_ms=valid_for_ms),
        answers=(RbmAnswer(),),
        result=TAKEN,
        was_submitted=False,
        receipts=(DELIVERED,),
    )


def _status(status: int, *, answers: tuple[int, ...] | None = None) -> SubmitCase:
    """The case of one row of the connector's table."""
    answer = ANSWERS[status]
    result: SubmitResult
    if answer.outcome is REJECTED:
        message = "Requested entity was not found." if status == 404 else "Error."
        result = _rejected(answer.code or 0, f"RBM {status} {answer.name}: {message}")
    elif answer.outcome is THROTTLED:
        result = SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=BACKOFF_MS)
    else:
        result = SubmitResult(ATTEMPT, ACCEPTED, MESSAGE_ID)
    kinds = {ACCEPTED: Kind.SUBMIT_ACCEPTED, REJECTED: Kind.SUBMIT_REFUSED}
    return SubmitCase(
        kind=kinds.get(answer.outcome, Kind.SUBMIT_THROTTLED),
        label=f"{status} {answer.name}: {answer.outcome.lower()}",
        provider_status=f"{status} {answer.name}",
        submission=RCS,
        answers=tuple(RbmAnswer(s) for s in answers or (status,)),
        result=result,
        was_submitted=False,
        receipts=(DELIVERED,) if status == 200 else (),
    )


SUBMITS = (
    _status(200),
    *(_status(status) for status in (400, 403, 404, 409, 429, 500, 502, 503, 504)),
    _status(401, answers=(401, 401)),  # still refused after a fresh token
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a refused token is replaced and the send tried again",
        submission=RCS,
        answers=(RbmAnswer(401), RbmAnswer(200)),
        result=TAKEN,
        was_submitted=False,
        receipts=(DELIVERED,),
    ),
    _accepted("a card with suggestions and a ttl", {"card": CARD, "suggestions": [REPLY]}, 60_000),
    _accepted(
        "a carousel",
        {"carousel": {"cardWidth": "SMALL", "cards": [CARD, {"title": "Or pick it up"}]}},
    ),
    _accepted("media with text: a card", {"text": "Your parcel", "media": [{"url": IMAGE}]}),
    _accepted("media alone", {"media": [{"url": IMAGE}]}),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="content RBM cannot take is refused unsent",
        submission=_sent(content={"media": [{"url": IMAGE}, {"url": IMAGE}]}),
        answers=(),
        result=_rejected(63005, "rcs: one media file per message, not 2"),
        was_submitted=False,
    ),
)


def _receipt(status: str, code: int | None = None, why: str | None = None) -> Receipt:
    return Receipt(status, provider_message_id="m-1", error_code=code, error_message=why)


EVENT_RECEIPTS = {
    "DELIVERED": _receipt("DELIVERED"),
    "READ": _receipt("READ"),
    "TTL_EXPIRATION_REVOKED": _receipt("UNDELIVERED", 30003, "RBM TTL_EXPIRATION_REVOKED"),
}
FROM_PHONE = "+14155550123"

REPORTS = (
    *(
        ReportCase(
            kind=Kind.STATUS_MAPPED,
            label=f"event {event_type}",
            provider_status=event_type,
            reports=(RbmEvent(event_type),),
            receipts=(receipt,),
        )
        for event_type, receipt in EVENT_RECEIPTS.items()
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="READ before DELIVERED: both heard, in the order they came",
        reports=(RbmEvent("READ", event_id="e-2"), RbmEvent("DELIVERED", event_id="e-1")),
        receipts=(_receipt("READ"), _receipt("DELIVERED")),
        provider_status="READ",
    ),
    ReportCase(
        kind=Kind.INBOUND,
        label="a user writes STOP",
        reports=(RbmUserMessage("STOP"),),
        inbound=(Inbound(NAME, "RCS", FROM_PHONE, AGENT, "STOP", provider_message_id="u-1"),),
    ),
    ReportCase(
        kind=Kind.INBOUND,
        label="a user taps a suggestion",
        reports=(RbmUserMessage(suggestion=("Track it", "track")),),
        inbound=(Inbound(NAME, "RCS", FROM_PHONE, AGENT, "Track it", provider_message_id="u-1"),),
    ),
    ReportCase(
        kind=Kind.DUPLICATE_RECEIPT,
        label="the same event twice: acknowledged twice, heard once",
        reports=(RbmEvent("DELIVERED"),) * 2,
        receipts=(_receipt("DELIVERED"),),
    ),
    ReportCase(
        kind=Kind.DUPLICATE_RECEIPT,
        label="the same user message twice: stored once",
        reports=(RbmUserMessage("hello"),) * 2,
        inbound=(Inbound(NAME, "RCS", FROM_PHONE, AGENT, "hello", provider_message_id="u-1"),),
    ),
    ReportCase(
        kind=Kind.STORED_BEFORE_ACK,
        label="a receipt is acknowledged once stored",
        reports=(RbmEvent("DELIVERED"),),
        receipts=(_receipt("DELIVERED"),),
    ),
    ReportCase(
        kind=Kind.STORED_BEFORE_ACK,
        label="a user message is acknowledged once stored",
        reports=(RbmUserMessage("START"),),
        inbound=(Inbound(NAME, "RCS", FROM_PHONE, AGENT, "START", provider_message_id="u-1"),),
    ),
    ReportCase(
        kind=Kind.HANDSHAKE,
        label="the webhook registration echoes the secret",
        reports=(RbmHandshake(),),
    ),
    ReportCase(
        kind=Kind.FORGED_REPORT,
        label="forged and unsigned events, a handshake with another client token",
        reports=(
            RbmEvent("DELIVERED", event_id="f-1", signing=FORGED),
            RbmEvent("DELIVERED", event_id="f-2", signing=UNSIGNED),
            RbmHandshake(client_token="someone-elses-token"),
        ),
    ),
    EarlyReceiptCase(
        label="DELIVERED before the answer to the send",
        submission=RCS,
        answers=(RbmAnswer(),),
        reports=(PeerDelivery(),),
        result=TAKEN,
        receipts=(DELIVERED,),
    ),
)

RBM = Contract(
    name="rbm",
    start=start,
    cases=(*SUBMITS, *REPORTS),
    provider_statuses=frozenset({f"{s} {a.name}" for s, a in ANSWERS.items()} | set(EVENTS)),
    not_applicable={
        Kind.SUBMIT_LOST: "an answer lost in flight comes back THROTTLED: sending the attempt "
        "again is safe, as it goes with the same messageId, which RBM ignores (docs/rbm.md)",
    },
)
