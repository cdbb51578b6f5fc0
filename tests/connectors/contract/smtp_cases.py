"""The smtp connector's contract: its cases, run against the SMTP test peer
(tests/support/smtp_peer) over STARTTLS with AUTH, with the bounce listener on
127.0.0.1 and the connector's webhook hosted on the real `/webhooks/{name}` route.

The peer's answers are `Reply`s (accept, refuse with an SMTP reply at RCPT or DATA,
accept and lose the answer, accept and report a DSN at once). Its reports are `Dsn`s
sent to the bounce listener (an SMTP 250 counts as the 200 of a webhook), `HttpBounce`s
posted to the bounce webhook (signed, or forged) and `OneClick` unsubscribes.
"""

from __future__ import annotations

import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import httpx
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
from opencomms.connectors.smtp import SmtpConfig, SmtpConnector
from opencomms.connectors.smtp.errors import BASIC, ENHANCED, UNKNOWN, Kind
from opencomms.connectors.smtp.unsubscribe import Unsubscribe, body_signature, unsubscribe_url
from tests.connectors.contract.cases import (
    ATTEMPT,
    SUBMISSION,
    Case,
    Contract,
    EarlyReceiptCase,
    ReportCase,
    Rig,
    SubmitCase,
)
from tests.connectors.contract.cases import Kind as CaseKind
from tests.support.smtp_peer import Bounce, DsnReport, SmtpPeer, TestCertificate, make_certificate
from tests.support.webhook_host import hosting_webhooks

__all__ = ["SMTP"]

NAME = "mail-contract"
PASSWORD = "smtp-contract-pw-5d1"
SECRET = "smtp-webhook-secret-8e2"
PUBLIC_URL = "https://comms.example.test"
SENDER, RECIPIENT, BOUNCES = "news@acme.test", "ada@example.test", "bounces@acme.test"
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome
EMAIL = msgspec.structs.replace(
    SUBMISSION, channel="EMAIL", from_address=SENDER, to_address=RECIPIENT,
    content={"subject": "Hello", "text": "Hello Ada"},
)  # fmt: skip
ACTIONS = ("failed", "delayed", "delivered", "relayed", "expanded")


@dataclass(frozen=True)
class Reply:
    """The peer's answer to one mail: accept (`refuse` None), refuse with `refuse` at
    `stage`; `lost`: take it and drop the connection unanswered; `bounce`: take it and
    send a DSN at once."""

    refuse: str | None = None
    stage: str = "RCPT"
    lost: bool = False
    bounce: Bounce | None = None


@dataclass(frozen=True)
class Dsn:
    """A DSN to the bounce listener about the attempt (`envid` None: none given)."""

    action: str
    status: str = "5.1.1"
    envid: str | None = ATTEMPT


@dataclass(frozen=True)
class HttpBounce:
    """The bounce webhook; `forged`: "secret" signed with another, "none" unsigned."""

    action: str
    status: str = "5.1.1"
    forged: str = ""


@dataclass(frozen=True)
class OneClick:
    forged: bool = False


class ContractPeer:
    def __init__(self, peer: SmtpPeer, base_url: str) -> None:
        self._peer = peer
        self._base_url = base_url
        self._declared = 0
        self._statuses: list[int] = []

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        for answer in answers:
            assert isinstance(answer, Reply), "an smtp answer is a Reply"
            if answer.refuse is not None:
                self._peer.refuse(submission.to_address, answer.refuse, answer.stage, times=1)  # type: ignore[arg-type]
            if answer.lost:
                self._peer.lose_next()
            if answer.bounce is not None:
                self._peer.bounce(submission.to_address, answer.bounce)
        self._declared += len(answers)
        return submission

    async def push(self, report: object) -> bool:
        if isinstance(report, Dsn):
            dsn = DsnReport(RECIPIENT, report.action, report.status, envelope_id=report.envid)
            reply = await self._peer.send_report(dsn, BOUNCES, 0.0)
            self._statuses.append(200 if reply == 250 else reply)
            return reply == 250
        async with httpx.AsyncClient(timeout=10) as client:
            url, arguments = _request(report, self._base_url)
            answer = await client.post(url, **arguments)
        self._statuses.append(answer.status_code)
        return answer.status_code == 200

    async def settle(self) -> None:
        await self._peer.settle()

    def unused(self) -> list[str]:
        asked = len(self._peer.mails) + len(self._peer.refused)
        return [f"answer {n + 1}" for n in range(asked, self._declared)]

    def unexpected(self) -> list[str]:
        asked = [m.rcpt_to for m in self._peer.mails] + [a for a, _ in self._peer.refused]
        return [f"a mail to {to}" for to in asked[self._declared :]]

    def answered(self) -> list[int]:
        return list(self._statuses)

    def hold(self) -> None:
        self._peer.hold()

    async def held(self) -> None:
        await self._peer.held()

    def release(self) -> None:
        self._peer.release()


def _request(report: object, base_url: str) -> tuple[str, dict[str, Any]]:
    """The URL and the httpx arguments of a webhook report."""
    if isinstance(report, OneClick):
        secret = "not-our-secret" if report.forged else SECRET
        link = unsubscribe_url(
            f"{PUBLIC_URL}/webhooks/{NAME}", secret, Unsubscribe(ATTEMPT, SENDER, RECIPIENT)
        )
        return base_url + link.removeprefix(PUBLIC_URL), {"content": b"List-Unsubscribe=One-Click"}
    assert isinstance(report, HttpBounce), f"not an smtp report: {report!r}"
    bounce = {"envelope_id": ATTEMPT, "action": report.action, "status": report.status,
              "recipient": RECIPIENT, "diagnostic": "smtp; 550 5.1.1 no such user"}  # fmt: skip
    body = msgspec.json.encode({"bounces": [bounce]})
    headers = {"Content-Type": "application/json"}
    if report.forged != "none":
        secret = "not-our-secret" if report.forged == "secret" else SECRET
        headers["X-Opencomms-Signature"] = body_signature(secret, body)
    return f"{base_url}/webhooks/{NAME}", {"content": body, "headers": headers}


@cache
def _certificate() -> TestCertificate:
    return make_certificate(Path(tempfile.mkdtemp(prefix="smtp-contract-")))


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    certificate = _certificate()
    peer = SmtpPeer(
        security="starttls", certificate=certificate, login=("acme", PASSWORD),
        report_success=False,  # only the DSNs a case declares
    )  # fmt: skip
    await peer.start()
    config = SmtpConfig(
        host="127.0.0.1", port=peer.port, security="starttls", username="acme",
        password=PASSWORD, tls_ca_file=str(certificate.ca_file), helo_name="client.acme.test",
        bounce_address=BOUNCES, bounce_listen="127.0.0.1:0", webhook_secret=SECRET,
        kept_mail_dir=tempfile.mkdtemp(prefix="smtp-kept-"), connections=2, timeout="5s",
    )  # fmt: skip
    connector = SmtpConnector(NAME, config, PUBLIC_URL)
    try:
        await connector.start(receipts, inbound)
        assert connector.bounce_port is not None
        peer.report_to = ("127.0.0.1", connector.bounce_port)
        async with hosting_webhooks({NAME: connector}, public_url=PUBLIC_URL) as base_url:
            yield Rig(connector, ContractPeer(peer, base_url), config)
    finally:
        await connector.close()
        await peer.stop()


# --- what the engine hears ---------------------------------------------------------------


def _undelivered(status: str, diagnostic: str) -> Receipt:
    code = ENHANCED.get(status) or ENHANCED.get(status.rsplit(".", 1)[0])
    twilio = code.twilio_code if code is not None and code.kind is Kind.REFUSED else UNKNOWN
    return Receipt("UNDELIVERED", ATTEMPT, error_code=twilio,
                   error_message=f"SMTP {status}: {diagnostic}")  # fmt: skip


DSN_DIAGNOSTIC = "smtp; 550 5.1.1 <ada@example.test>: Recipient address rejected"
DELIVERED = Receipt("DELIVERED", ATTEMPT)


def _refusal_case(reply: str, status: str, stage: str = "RCPT") -> SubmitCase:
    code, _, text = reply.partition(" ")
    row = ENHANCED.get(status) if "." in status else BASIC[int(status)]
    assert row is not None
    if row.kind is Kind.OPERATOR:
        result = SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=60_000)
        kind = CaseKind.SUBMIT_THROTTLED
    else:
        message = f"SMTP {code} {text}"
        result = SubmitResult(ATTEMPT, REJECTED, error_code=row.twilio_code, error_message=message)
        kind = CaseKind.SUBMIT_REFUSED
    return SubmitCase(
        kind=kind, label=f"refused at {stage}: {reply}", provider_status=status,
        submission=EMAIL, answers=(Reply(reply, stage),), result=result, was_submitted=False,
    )  # fmt: skip


def _example(status: str) -> str:
    """A reply with `status`; a subject row (`5.7`) takes a code of its own (`5.7.26`)."""
    full = status if status.count(".") == 2 else f"{status}.26"
    return f"{'535' if full == '5.7.8' else '550'} {full} refused for the contract"


# --- the cases ---------------------------------------------------------------------------

SUBMITS: tuple[Case, ...] = (
    SubmitCase(
        kind=CaseKind.SUBMIT_ACCEPTED,
        label="a mail taken over STARTTLS with AUTH",
        submission=EMAIL,
        answers=(Reply(),),
        result=SubmitResult(ATTEMPT, ACCEPTED),
        was_submitted=True,
    ),
    SubmitCase(
        kind=CaseKind.SUBMIT_ACCEPTED,
        label="taken, then a DSN: failed 5.1.1",
        provider_status="failed",
        submission=EMAIL,
        answers=(Reply(bounce=Bounce()),),
        result=SubmitResult(ATTEMPT, ACCEPTED),
        was_submitted=True,
        receipts=(_undelivered("5.1.1", DSN_DIAGNOSTIC),),
    ),
    SubmitCase(
        kind=CaseKind.SUBMIT_ACCEPTED,
        label="taken, then a DSN: delivered",
        provider_status="delivered",
        submission=EMAIL,
        answers=(Reply(bounce=Bounce("delivered", "2.0.0")),),
        result=SubmitResult(ATTEMPT, ACCEPTED),
        was_submitted=True,
        receipts=(DELIVERED,),
    ),
    *(_refusal_case(_example(status), status) for status in ENHANCED),
    *(_refusal_case(f"{code} refused", str(code)) for code in BASIC),
    _refusal_case("554 5.7.1 spam refused at DATA", "5.7.1", stage="DATA"),
    SubmitCase(
        kind=CaseKind.SUBMIT_REFUSED,
        label="no text, html nor media: refused unsent",
        submission=msgspec.structs.replace(EMAIL, content={"subject": "Empty"}),
        answers=(),
        result=SubmitResult(
            ATTEMPT,
            REJECTED,
            error_code=21619,
            error_message="SMTP: an email needs text, html or media",
        ),
        was_submitted=False,
    ),
    *(
        SubmitCase(
            kind=CaseKind.SUBMIT_THROTTLED,
            label=f"4xx at {stage}: {reply}",
            submission=EMAIL,
            answers=(Reply(reply, stage),),
            result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=1000),
            was_submitted=False,
        )
        for reply, stage in (("450 4.2.1 mailbox busy", "RCPT"), ("451 4.3.0 try later", "DATA"))
    ),
    SubmitCase(
        kind=CaseKind.SUBMIT_LOST,
        label="taken, and the answer to DATA lost: in doubt",
        submission=EMAIL,
        answers=(Reply(lost=True),),
        result=None,
        was_submitted=None,
    ),
)

REPORTS: tuple[Case, ...] = (
    *(
        ReportCase(
            kind=CaseKind.STATUS_MAPPED,
            label=f"a DSN: {action}",
            provider_status=action,
            reports=(Dsn(action, "2.0.0" if action != "delayed" else "4.4.1"),),
            receipts=(DELIVERED,) if action != "delayed" else (),
        )
        for action in ACTIONS
        if action != "failed"
    ),
    *(
        ReportCase(
            kind=CaseKind.STATUS_MAPPED,
            label=f"a DSN: failed {status}",
            provider_status=status,
            reports=(Dsn("failed", status if status.count(".") == 2 else f"{status}.26"),),
            receipts=(
                _undelivered(status if status.count(".") == 2 else f"{status}.26", DSN_DIAGNOSTIC),
            ),
        )
        for status in ENHANCED
    ),
    ReportCase(
        kind=CaseKind.STATUS_MAPPED,
        label="the bounce webhook: failed 5.1.1",
        provider_status="failed",
        reports=(HttpBounce("failed"),),
        receipts=(_undelivered("5.1.1", "smtp; 550 5.1.1 no such user"),),
    ),
    ReportCase(
        kind=CaseKind.INBOUND,
        label="a one-click unsubscribe is the recipient's UNSUBSCRIBE",
        reports=(OneClick(),),
        inbound=(
            Inbound(NAME, "EMAIL", RECIPIENT, SENDER, "UNSUBSCRIBE", f"unsubscribe:{ATTEMPT}"),
        ),
    ),
    ReportCase(
        kind=CaseKind.DUPLICATE_RECEIPT,
        label="the same DSN twice: each reported",
        reports=(Dsn("relayed", "2.0.0"),) * 2,
        receipts=(DELIVERED,) * 2,
    ),
    ReportCase(
        kind=CaseKind.STORED_BEFORE_ACK,
        label="250 to a DSN, 200 to a webhook, once stored",
        reports=(Dsn("delivered", "2.0.0"), HttpBounce("relayed", "2.0.0")),
        receipts=(DELIVERED, DELIVERED),
    ),
    ReportCase(
        kind=CaseKind.FORGED_REPORT,
        label="forged: a bounce signed with another secret, unsigned, a forged unsubscribe",
        reports=(
            HttpBounce("failed", forged="secret"),
            HttpBounce("failed", forged="none"),
            OneClick(forged=True),
        ),
    ),
    EarlyReceiptCase(
        label="the DSN before the answer to DATA",
        submission=EMAIL,
        answers=(Reply(),),
        reports=(Dsn("delivered", "2.0.0"),),
        result=SubmitResult(ATTEMPT, ACCEPTED),
        receipts=(DELIVERED,),
    ),
)

SMTP = Contract(
    name="smtp",
    start=start,
    cases=(*SUBMITS, *REPORTS),
    provider_statuses=frozenset({*ACTIONS, *ENHANCED, *(str(code) for code in BASIC)}),
    not_applicable={
        CaseKind.HANDSHAKE: "no subscription handshake: the bounce webhook's secret is "
        "shared by hand, and SMTP has none"
    },
)
