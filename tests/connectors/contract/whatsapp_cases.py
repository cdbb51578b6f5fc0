"""The whatsapp connector's contract: its cases, run against the WhatsApp Cloud API test
peer (tests/support/whatsapp_peer), with the connector's webhooks hosted on the real
`/webhooks/{name}` route (tests/support/webhook_host.py).

The peer's answers are `Answer`s (accept with a wamid and the statuses to post after,
or refuse with a Graph error code, or accept and lose the answer on the way back); its
reports are `Status` and `UserMessage` webhooks, signed as Meta signs them (or forged),
and `Handshake`s. An `AnswerGate` (a TCP relay) between the connector and the peer
holds answers back (early receipts) and loses one (a send in doubt).
"""

from __future__ import annotations

import asyncio
import time
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
)
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector
from opencomms.connectors.whatsapp.errors import ERRORS, graph_error, receipt_status
from opencomms.connectors.whatsapp.webhooks import STATUSES
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
from tests.support.webhook_host import hosting_webhooks
from tests.support.whatsapp_peer import ERRORS as PEER_ERRORS
from tests.support.whatsapp_peer import Delivery, WhatsAppPeer
from tests.support.whatsapp_peer.webhooks import envelope, status_item

__all__ = ["WHATSAPP"]

NAME = "wa-contract"
TOKEN = "EAAG-contract-token-91f"
SECRET = "app-secret-contract-3c7"
VERIFY = "verify-contract-a12"
NUMBER_ID = "106540352242922"
OURS = "15550783881"
USER = "14155551234"  # SUBMISSION's recipient, as WhatsApp writes it
WAMID = "wamid.HBgLMTQxNTU1NTEyMzQVAgARGBJDT05UUkFDVDAwMDAwMDAwMQA="
CHALLENGE = "1158201444"
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome
WA_SUBMISSION = msgspec.structs.replace(SUBMISSION, channel="WHATSAPP")


@dataclass(frozen=True)
class Answer:
    """The peer's answer to one send: accepted with `wamid` and then `statuses` posted,
    or refused with Graph error `refuse`; `lost`: accepted, and the answer lost."""

    wamid: str = WAMID
    statuses: tuple[str, ...] = ()
    refuse: int | None = None
    lost: bool = False


@dataclass(frozen=True)
class Status:
    """A status webhook about the message `wamid`; `forged`: "secret" signed with
    another secret, "none" without a signature."""

    status: str
    wamid: str = WAMID
    code: int | None = None
    ours: bool = True  # carries our attempt id in biz_opaque_callback_data
    forged: str = ""


@dataclass(frozen=True)
class UserMessage:
    """A user's message: a text, or (`button`) a quick-reply button's text."""

    text: str
    wamid: str = "wamid.IN-1"
    button: bool = False


@dataclass(frozen=True)
class Handshake:
    verify_token: str = VERIFY


class ContractPeer(WhatsAppPeer):
    """The peer, naming accepted messages with the wamids the cases declare."""

    def __init__(self, **settings: Any) -> None:
        super().__init__(**settings)
        self.wamids: deque[str] = deque()

    def _new_wamid(self, wa_id: str) -> str:
        return self.wamids.popleft() if self.wamids else super()._new_wamid(wa_id)


class CloudPeer:
    """The contract's view of the peer: answers scripted per case, reports pushed and
    awaited one at a time, answers held or lost by the gate."""

    def __init__(self, peer: ContractPeer, gate: AnswerGate) -> None:
        self._peer = peer
        self._gate = gate
        self._declared = 0
        self._statuses: list[int] = []

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        for answer in answers:
            assert isinstance(answer, Answer), "a whatsapp answer is an Answer"
            if answer.refuse is not None:
                self._peer.refuse(USER, answer.refuse)
                continue
            self._peer.statuses(USER, *answer.statuses)
            self._peer.wamids.append(answer.wamid)
            if answer.lost:
                self._gate.lose_next()
        self._declared += len(answers)
        return submission

    async def push(self, report: object) -> bool:
        if isinstance(report, Handshake):
            answer = await self._peer.handshake_async(
                verify_token=report.verify_token, challenge=CHALLENGE
            )
            self._statuses.append(answer.status_code)
            return answer.status_code == 200 and answer.text == CHALLENGE
        payload, forged = _payload(report)
        secret = "not-the-app-secret" if forged == "secret" else None
        signature = "" if forged == "none" else None
        delivery = self._peer.push_payload(payload, secret=secret, signature=signature, retry=False)
        return await self._answered(delivery)

    async def _answered(self, delivery: Delivery) -> bool:
        assert await asyncio.to_thread(delivery.done.wait, 10), "the webhook was not answered"
        self._statuses.append(delivery.attempts[-1].status_code or 0)
        return delivery.delivered

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


def _payload(report: object) -> tuple[dict[str, Any], str]:
    if isinstance(report, Status):
        item = status_item(
            report.wamid,
            report.status,
            USER,
            callback_data=ATTEMPT if report.ours else None,
            error_code=report.code,
        )
        if report.code is not None:  # the peer's helper takes a code 0 for "none given"
            _, title, details = PEER_ERRORS.get(report.code, (400, "Error", "Error."))
            error = {"code": report.code, "title": title, "message": title}
            item["errors"] = [{**error, "error_data": {"details": details}}]
        return envelope("102290129340398", OURS, NUMBER_ID, statuses=[item]), report.forged
    assert isinstance(report, UserMessage), f"not a whatsapp report: {report!r}"
    message: dict[str, Any] = {"from": USER, "id": report.wamid,
                               "timestamp": str(int(time.time()))}  # fmt: skip
    if report.button:
        message.update(type="button", button={"payload": "p-1", "text": report.text})
    else:
        message.update(type="text", text={"body": report.text})
    contacts = [{"profile": {"name": "Contract User"}, "wa_id": USER}]
    return envelope("102290129340398", OURS, NUMBER_ID, contacts=contacts, messages=[message]), ""


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    peer = ContractPeer(
        access_token=TOKEN,
        app_secret=SECRET,
        verify_token=VERIFY,
        phone_number_id=NUMBER_ID,
        display_phone_number=OURS,
        statuses=(),
        retry_delays_s=(),
    ).start()
    gate = await AnswerGate(peer.port).start()
    config = WhatsAppConfig(
        phone_number_id=NUMBER_ID,
        access_token=TOKEN,
        app_secret=SECRET,
        verify_token=VERIFY,
        base_url=f"http://127.0.0.1:{gate.port}/v21.0",
        request_timeout="2s",
    )
    connector = WhatsAppConnector(NAME, config)
    try:
        await connector.start(receipts, inbound)
        async with hosting_webhooks({NAME: connector}) as base_url:
            peer.webhook_url = f"{base_url}/webhooks/{NAME}"
            yield Rig(connector, CloudPeer(peer, gate), config)
    finally:
        await connector.close()
        await gate.stop()
        peer.stop()


# --- what the engine hears ---------------------------------------------------------------


def _receipt(status: str, wamid: str = WAMID, ours: bool = True) -> Receipt:
    return Receipt(status, ATTEMPT if ours else None, wamid)


def _refused_message(code: int) -> str:
    """The error message of a send the peer refused with `code`, as Graph words it."""
    _, title, details = PEER_ERRORS[code]
    return f"WhatsApp error {code}: (#{code}) {title} ({details})"


def _failed(code: int) -> Receipt:
    """The receipt of a `failed` status with `code`, as the peer words its error."""
    _, title, details = PEER_ERRORS.get(code, (400, "Error", "Error."))
    why = f"WhatsApp error {code}: {title} ({details})"
    return Receipt(receipt_status(code), ATTEMPT, WAMID, graph_error(code, 400).twilio_code, why)


def _submission(content: dict[str, Any]) -> Submission:
    return msgspec.structs.replace(WA_SUBMISSION, content=content)


# --- the cases ---------------------------------------------------------------------------

ACCEPTS = (
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a text accepted with its wamid",
        submission=WA_SUBMISSION,
        answers=(Answer(),),
        result=SubmitResult(ATTEMPT, ACCEPTED, WAMID),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="accepted, then sent and delivered",
        submission=WA_SUBMISSION,
        answers=(Answer(statuses=("sent", "delivered")),),
        result=SubmitResult(ATTEMPT, ACCEPTED, WAMID),
        was_submitted=True,
        receipts=(_receipt("SENT"), _receipt("DELIVERED")),
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a media with a caption accepted",
        submission=_submission({"text": "Invoice", "media": [{"url": "https://x.example/i.pdf"}]}),
        answers=(Answer(),),
        result=SubmitResult(ATTEMPT, ACCEPTED, WAMID),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a template accepted",
        submission=_submission({"template": {"name": "order_ready", "language": "en_US"}}),
        answers=(Answer(),),
        result=SubmitResult(ATTEMPT, ACCEPTED, WAMID),
        was_submitted=True,
    ),
)

REFUSED_CODES = (131026, 131047, 131049, 100, 132000, 132001)
THROTTLED_CODES = ((130429, 1000), (131056, 6000), (131000, 5000), (190, 60_000))

REFUSALS = (
    *(
        SubmitCase(
            kind=Kind.SUBMIT_REFUSED,
            label=f"refused: {code} {PEER_ERRORS[code][1]}",
            provider_status=str(code),
            submission=WA_SUBMISSION,
            answers=(Answer(refuse=code),),
            result=SubmitResult(
                ATTEMPT,
                REJECTED,
                error_code=ERRORS[code].twilio_code,
                error_message=_refused_message(code),
            ),
            was_submitted=False,
        )
        for code in REFUSED_CODES
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="refused unsent: an audio with a caption",
        submission=_submission({"text": "hi", "media": [{"url": "https://x.example/v.mp3"}]}),
        answers=(),
        result=SubmitResult(
            ATTEMPT,
            REJECTED,
            error_code=63021,
            error_message="WhatsApp: a WhatsApp audio message takes no text; send it without",
        ),
        was_submitted=False,
    ),
    *(
        SubmitCase(
            kind=Kind.SUBMIT_THROTTLED,
            label=f"throttled: {code} {PEER_ERRORS[code][1]}",
            provider_status=str(code),
            submission=WA_SUBMISSION,
            answers=(Answer(refuse=code),),
            result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=wait_ms),
            was_submitted=False,
        )
        for code, wait_ms in THROTTLED_CODES
    ),
    SubmitCase(
        kind=Kind.SUBMIT_LOST,
        label="accepted, and the answer lost on the way back: in doubt, never resent",
        submission=WA_SUBMISSION,
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
            receipts=(_receipt(status.upper()),),
        )
        for status in ("sent", "delivered", "read")
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status failed: 131026, the fallback moves on",
        provider_status="failed",
        reports=(Status("failed", code=131026),),
        receipts=(_failed(131026),),
    ),
    *(
        ReportCase(
            kind=Kind.STATUS_MAPPED,
            label=f"status failed with {code} {row.title}",
            provider_status=str(code),
            reports=(Status("failed", code=code),),
            receipts=(_failed(code),),
        )
        for code, row in ERRORS.items()
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="status delivered without our attempt id: found by the wamid",
        provider_status="delivered",
        reports=(Status("delivered", ours=False),),
        receipts=(_receipt("DELIVERED", ours=False),),
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="read without delivered, reported as it came",
        provider_status="read",
        reports=(Status("sent"), Status("read")),
        receipts=(_receipt("SENT"), _receipt("READ")),
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="out of order: delivered before sent, reported as they came",
        provider_status="delivered",
        reports=(Status("delivered"), Status("sent")),
        receipts=(_receipt("DELIVERED"), _receipt("SENT")),
    ),
)


def _inbound(text: str, wamid: str = "wamid.IN-1") -> Inbound:
    return Inbound(NAME, "WHATSAPP", f"+{USER}", f"+{OURS}", text, wamid)


WEBHOOK_CASES: tuple[Case, ...] = (
    ReportCase(
        kind=Kind.INBOUND,
        label="a user writes STOP",
        reports=(UserMessage("STOP"),),
        inbound=(_inbound("STOP"),),
    ),
    ReportCase(
        kind=Kind.INBOUND,
        label="a user taps a quick-reply button",
        reports=(UserMessage("Yes, please", "wamid.IN-2", button=True),),
        inbound=(_inbound("Yes, please", "wamid.IN-2"),),
    ),
    ReportCase(
        kind=Kind.DUPLICATE_RECEIPT,
        label="the same status twice: each reported and acknowledged",
        reports=(Status("delivered"),) * 2,
        receipts=(_receipt("DELIVERED"),) * 2,
    ),
    ReportCase(
        kind=Kind.STORED_BEFORE_ACK,
        label="200 only once the status and the user's message are stored",
        reports=(Status("delivered"), UserMessage("hi")),
        receipts=(_receipt("DELIVERED"),),
        inbound=(_inbound("hi"),),
    ),
    ReportCase(
        kind=Kind.HANDSHAKE,
        label="hub.challenge echoed for our verify token",
        reports=(Handshake(),),
    ),
    ReportCase(
        kind=Kind.FORGED_REPORT,
        label="forged: signed with another secret, unsigned, a wrong verify token",
        reports=(
            Status("delivered", forged="secret"),
            Status("read", forged="none"),
            Handshake("not-our-verify-token"),
        ),
    ),
    EarlyReceiptCase(
        label="the delivered status before the answer to the send",
        submission=WA_SUBMISSION,
        answers=(Answer(wamid="wamid.EARLY"),),
        reports=(Status("delivered", wamid="wamid.EARLY"),),
        result=SubmitResult(ATTEMPT, ACCEPTED, "wamid.EARLY"),
        receipts=(_receipt("DELIVERED", "wamid.EARLY"),),
    ),
)

WHATSAPP = Contract(
    name="whatsapp",
    start=start,
    cases=(*ACCEPTS, *REFUSALS, *STATUS_CASES, *WEBHOOK_CASES),
    provider_statuses=frozenset({*STATUSES, *(str(code) for code in ERRORS)}),
)
