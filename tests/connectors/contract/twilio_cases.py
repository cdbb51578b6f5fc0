"""The twilio connector's contract: its cases, run against the Twilio Messaging test peer
(tests/support/twilio_peer), with the connector's webhooks hosted on the real
`/webhooks/{name}` route (tests/support/webhook_host.py).

The peer's answers are `Answer`s (accept with a sid and the status callbacks to post
after, or refuse with a Twilio error code, or accept and lose the answer on the way
back); its reports are `Status` callbacks and `Incoming` messages, signed as Twilio signs
them (or forged). An `AnswerGate` (a TCP relay) between the connector and the peer holds
answers back (early receipts) and loses one (a send in doubt).
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
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
    WebhookAnswer,
    WebhookRequest,
)
from opencomms.connectors.twilio import TwilioConfig, TwilioConnector
from opencomms.connectors.twilio.callbacks import RECEIPT_STATUSES, STATUSES
from opencomms.connectors.twilio.errors import ERRORS
from tests.connectors.contract.cases import (
    ATTEMPT,
    SUBMISSION,
    Case,
    Contract,
    EarlyReceiptCase,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
)
from tests.connectors.whatsapp.answer_gate import AnswerGate
from tests.support.twilio_peer import ERRORS as PEER_ERRORS
from tests.support.twilio_peer import Callback, Outgoing, TwilioPeer, sign, status_form
from tests.support.webhook_host import hosting_webhooks

__all__ = ["TWILIO"]

NAME = "tw-contract"
ACCOUNT = "AC" + "c0ffee" * 5 + "00"
TOKEN = "auth-token-contract-7e2"
SID = "SM" + "5a" * 16
OURS, USER = SUBMISSION.from_address, SUBMISSION.to_address
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome
WA_SUBMISSION = msgspec.structs.replace(SUBMISSION, channel="WHATSAPP")


@dataclass(frozen=True)
class Answer:
    """The peer's answer to one send: accepted as `sid` and then `statuses` posted, or
    refused with Twilio error `refuse` (and `retry_after`); `lost`: accepted, and the
    answer lost on its way back."""

    sid: str = SID
    statuses: tuple[str, ...] = ()
    refuse: int | None = None
    retry_after: str = ""
    lost: bool = False


@dataclass(frozen=True)
class Status:
    """A status callback about `sid`; `ours`: its URL names our attempt (as the
    StatusCallback we gave does); `forged`: "token" signed with another auth token,
    "none" unsigned, "url" signed for another URL."""

    status: str
    sid: str = SID
    code: int | None = None
    ours: bool = True
    forged: str = ""


@dataclass(frozen=True)
class Incoming:
    """A recipient writes `text` to our number (an incoming-message webhook)."""

    text: str
    sid: str = "SM" + "1b" * 16
    whatsapp: bool = False


class ContractPeer(TwilioPeer):
    """The peer, naming accepted messages with the sids the cases declare."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.sids: deque[str] = deque()

    def _new_sid(self, outgoing: Outgoing) -> str:
        return self.sids.popleft() if self.sids else super()._new_sid(outgoing)


class MessagingPeer:
    """The contract's view of the peer: answers scripted per case, reports pushed and
    awaited one at a time, answers held or lost by the gate."""

    def __init__(self, peer: ContractPeer, gate: AnswerGate, webhook_url: str) -> None:
        self._peer = peer
        self._gate = gate
        self._webhook_url = webhook_url
        self._declared = 0
        self._statuses: list[int] = []

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        for answer in answers:
            assert isinstance(answer, Answer), "a twilio answer is an Answer"
            if answer.refuse is not None:
                self._peer.refuse(USER, answer.refuse, retry_after=answer.retry_after)
                continue
            self._peer.statuses(USER, *answer.statuses)
            self._peer.sids.append(answer.sid)
            if answer.lost:
                self._gate.lose_next()
        self._declared += len(answers)
        return submission

    async def push(self, report: object) -> bool:
        url, form, token, signature = self._signed(report)
        callback = self._peer.push(url, form, token=token, signature=signature)
        return await self._answered(callback)

    def _signed(self, report: object) -> tuple[str, list[tuple[str, str]], str | None, str | None]:
        if isinstance(report, Incoming):
            prefix = "whatsapp:" if report.whatsapp else ""
            form = [("AccountSid", ACCOUNT), ("Body", report.text), ("From", prefix + USER),
                    ("MessageSid", report.sid), ("NumMedia", "0"), ("SmsStatus", "received"),
                    ("To", prefix + OURS)]  # fmt: skip
            return self._webhook_url, form, None, None
        assert isinstance(report, Status), f"not a twilio report: {report!r}"
        url = f"{self._webhook_url}?attempt={ATTEMPT}" if report.ours else self._webhook_url
        form = status_form(ACCOUNT, report.sid, report.status, USER, OURS, None, report.code)
        if report.forged == "url":
            return url, form, None, _signature_for(f"{url}x", form)
        token = "not-the-auth-token" if report.forged == "token" else None
        return url, form, token, "" if report.forged == "none" else None

    async def _answered(self, callback: Callback) -> bool:
        assert await asyncio.to_thread(callback.done.wait, 10), "the callback was not answered"
        self._statuses.append(callback.answered or 0)
        return callback.answered == 200

    async def settle(self) -> None:
        await self._peer.settled(10)

    def unused(self) -> list[str]:
        return [f"answer {n + 1}" for n in range(len(self._peer.sends), self._declared)]

    def unexpected(self) -> list[str]:
        return [f"a send to {send.to}" for send in self._peer.sends[self._declared :]]

    def answered(self) -> list[int]:
        return list(self._statuses)

    def hold(self) -> None:
        self._gate.hold()

    async def held(self) -> None:
        await self._gate.held()

    def release(self) -> None:
        self._gate.release()


def _signature_for(url: str, form: list[tuple[str, str]]) -> str:
    return sign(TOKEN, url, form)


class _Hosted:
    """Stands in for the connector on the webhook route until it is made (its public
    URL is the route's, known only once the route is served)."""

    connector: TwilioConnector | None = None

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        assert self.connector is not None
        return await self.connector.webhook(request)


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    peer = ContractPeer(account_sid=ACCOUNT, auth_token=TOKEN, statuses=()).start()
    gate = await AnswerGate(peer.port).start()
    config = TwilioConfig(
        account_sid=ACCOUNT,
        auth_token=TOKEN,
        base_url=f"http://127.0.0.1:{gate.port}",
        request_timeout="2s",
    )
    hosted = _Hosted()
    try:
        async with hosting_webhooks({NAME: hosted}) as base_url:
            connector = hosted.connector = TwilioConnector(NAME, config, base_url)
            await connector.start(receipts, inbound)
            try:
                yield Rig(
                    connector, MessagingPeer(peer, gate, f"{base_url}/webhooks/{NAME}"), config
                )
            finally:
                await connector.close()
    finally:
        await gate.stop()
        peer.stop()


# --- what the engine hears ---------------------------------------------------------------


def _receipt(status: str, sid: str = SID, ours: bool = True) -> Receipt:
    return Receipt(status, ATTEMPT if ours else None, sid)


def _failed(status: str, code: int) -> Receipt:
    return Receipt(status, ATTEMPT, SID, code, f"Twilio error {code}: {ERRORS[code].title}")


def _refused_message(code: int) -> str:
    _, message = PEER_ERRORS[code]
    return f"Twilio error {code}: {message.format(to=USER, from_=OURS, path='', service='')}"


def _submission(content: dict[str, Any], base: Submission = SUBMISSION) -> Submission:
    return msgspec.structs.replace(base, content=content)


# --- the cases ---------------------------------------------------------------------------

ACCEPTS = (
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="an SMS accepted with its sid",
        answers=(Answer(),),
        result=SubmitResult(ATTEMPT, ACCEPTED, SID),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="accepted, then sent and delivered",
        answers=(Answer(statuses=("sent", "delivered")),),
        result=SubmitResult(ATTEMPT, ACCEPTED, SID),
        was_submitted=True,
        receipts=(_receipt("SENT"), _receipt("DELIVERED")),
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="an MMS (text and two media) accepted",
        submission=_submission(
            {
                "text": "Invoice",
                "media": [{"url": "https://x.example/a.jpg"}, {"url": "https://x.example/b.png"}],
            }
        ),
        answers=(Answer(sid="MM" + "5a" * 16),),
        result=SubmitResult(ATTEMPT, ACCEPTED, "MM" + "5a" * 16),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a WhatsApp message accepted, then read",
        submission=WA_SUBMISSION,
        answers=(Answer(statuses=("sent", "read")),),
        result=SubmitResult(ATTEMPT, ACCEPTED, SID),
        was_submitted=True,
        receipts=(_receipt("SENT"), _receipt("READ")),
    ),
)

REFUSED_CODES = (21211, 21610, 21614, 21408, 21612, 21606, 21617)
THROTTLED_CODES = ((20429, "", 1000), (20429, "7", 7000), (21611, "", 60_000), (20503, "", 5000))
OPERATOR_CODES = (20003, 21609)

REFUSALS = (
    *(
        SubmitCase(
            kind=Kind.SUBMIT_REFUSED,
            label=f"refused: {code} {ERRORS[code].title}",
            provider_status=str(code),
            answers=(Answer(refuse=code),),
            result=SubmitResult(
                ATTEMPT, REJECTED, error_code=code, error_message=_refused_message(code)
            ),
            was_submitted=False,
        )
        for code in REFUSED_CODES
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="refused unsent: nothing to send",
        submission=_submission({"text": ""}),
        answers=(),
        result=SubmitResult(
            ATTEMPT,
            REJECTED,
            error_code=21602,
            error_message="Twilio: Message body is required (no text and no media)",
        ),
        was_submitted=False,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="refused unsent: a WhatsApp template",
        submission=_submission({"template": {"name": "t", "language": "en"}}, WA_SUBMISSION),
        answers=(),
        result=SubmitResult(
            ATTEMPT,
            REJECTED,
            error_code=63021,
            error_message="Twilio: a WhatsApp template is not sent through Twilio "
            "(use text and media)",
        ),
        was_submitted=False,
    ),
    *(
        SubmitCase(
            kind=Kind.SUBMIT_THROTTLED,
            label=f"throttled: {code} {ERRORS[code].title}"
            + (f", Retry-After {after}" if after else ""),
            provider_status=str(code),
            answers=(Answer(refuse=code, retry_after=after),),
            result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=wait_ms),
            was_submitted=False,
        )
        for code, after, wait_ms in THROTTLED_CODES
    ),
    *(
        SubmitCase(
            kind=Kind.SUBMIT_THROTTLED,
            label=f"the operator's to fix: {code} {ERRORS[code].title}",
            provider_status=str(code),
            answers=(Answer(refuse=code),),
            result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=60_000),
            was_submitted=False,
        )
        for code in OPERATOR_CODES
    ),
    SubmitCase(
        kind=Kind.SUBMIT_LOST,
        label="accepted, and the answer lost on the way back: in doubt, never resent",
        answers=(Answer(lost=True),),
        result=None,
        was_submitted=None,
    ),
)

STATUS_CASES = (
    *(
        ReportCase(
            kind=Kind.STATUS_MAPPED,
            label=f"status {status}",
            provider_status=status,
            reports=(Status(status),),
            receipts=(_receipt(mapped),) if mapped else (),
        )
        for status, mapped in RECEIPT_STATUSES.items()
        if status not in ("undelivered", "failed", "canceled")
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status undelivered: 30003, the fallback moves on",
        provider_status="undelivered",
        reports=(Status("undelivered", code=30003),),
        receipts=(_failed("UNDELIVERED", 30003),),
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status canceled",
        provider_status="canceled",
        reports=(Status("canceled"),),
        receipts=(Receipt("FAILED", ATTEMPT, SID, 30008, "Twilio canceled the message"),),
    ),
    *(
        ReportCase(
            kind=Kind.STATUS_MAPPED,
            label=f"status failed with {code} {row.title}",
            provider_status=str(code),
            reports=(Status("failed", code=code),),
            receipts=(_failed("FAILED", code),),
        )
        for code, row in ERRORS.items()
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status failed: 30003 for the row",
        provider_status="failed",
        reports=(Status("failed", code=30003),),
        receipts=(_failed("FAILED", 30003),),
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status delivered without our attempt in the URL: found by the sid",
        provider_status="delivered",
        reports=(Status("delivered", ours=False),),
        receipts=(_receipt("DELIVERED", ours=False),),
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="out of order: delivered before sent, reported as they came",
        provider_status="delivered",
        reports=(Status("delivered"), Status("sent")),
        receipts=(_receipt("DELIVERED"), _receipt("SENT")),
    ),
)


def _inbound(text: str, sid: str = "SM" + "1b" * 16, channel: str = "SMS") -> Inbound:
    return Inbound(NAME, channel, USER, OURS, text, sid)


WEBHOOK_CASES: tuple[Case, ...] = (
    ReportCase(
        kind=Kind.INBOUND,
        label="a recipient writes STOP",
        reports=(Incoming("STOP"),),
        inbound=(_inbound("STOP"),),
    ),
    ReportCase(
        kind=Kind.INBOUND,
        label="a WhatsApp user writes",
        reports=(Incoming("Yes please", "SM" + "2c" * 16, whatsapp=True),),
        inbound=(_inbound("Yes please", "SM" + "2c" * 16, "WHATSAPP"),),
    ),
    ReportCase(
        kind=Kind.DUPLICATE_RECEIPT,
        label="the same callback twice: each reported and acknowledged",
        reports=(Status("delivered"),) * 2,
        receipts=(_receipt("DELIVERED"),) * 2,
    ),
    ReportCase(
        kind=Kind.STORED_BEFORE_ACK,
        label="200 only once the status and the incoming message are stored",
        reports=(Status("delivered"), Incoming("hi")),
        receipts=(_receipt("DELIVERED"),),
        inbound=(_inbound("hi"),),
    ),
    ReportCase(
        kind=Kind.FORGED_REPORT,
        label="forged: another auth token, unsigned, signed for another URL",
        reports=(
            Status("delivered", forged="token"),
            Status("read", forged="none"),
            Status("failed", code=30003, forged="url"),
        ),
    ),
    EarlyReceiptCase(
        label="the delivered callback before the answer to the send",
        answers=(Answer(sid="SM" + "ea" * 16),),
        reports=(Status("delivered", sid="SM" + "ea" * 16),),
        result=SubmitResult(ATTEMPT, ACCEPTED, "SM" + "ea" * 16),
        receipts=(_receipt("DELIVERED", "SM" + "ea" * 16),),
    ),
)

TWILIO = Contract(
    name="twilio",
    start=start,
    cases=(*ACCEPTS, *REFUSALS, *STATUS_CASES, *WEBHOOK_CASES),
    provider_statuses=frozenset({*STATUSES, *(str(code) for code in ERRORS)}),
    not_applicable={Kind.HANDSHAKE: "Twilio has no webhook subscription handshake"},
)
