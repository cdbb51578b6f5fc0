"""The smpp connector's contract: its cases, run against the smpp34 SMSC over TCP.

The peer's answers are command_status values (and message ids); its reports are
deliver_sm receipts and handset messages, as `tests/support/smsc.py` sends them.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass

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
from opencomms.connectors.smpp import SmppConfig, SmppConnector
from opencomms.connectors.smpp.errors import ESME_RMSGQFUL, ESME_ROK, ESME_RTHROTTLED
from opencomms.connectors.smpp.receipt_text import STATES
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
from tests.support.smsc import Smsc, Submitted

__all__ = ["SMPP"]

NAME = "smpp-contract"
PASSWORD = "Kq7$vR2x"  # SMPP passwords have 8 characters at most
THROTTLE_PAUSE_MS = 50
ESME_RSYSERR = 0x08
ESME_RINVDSTADR = 0x0B
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome


@dataclass(frozen=True)
class SmscAnswer:
    """The SMSC's answer to one submit_sm."""

    status: int = ESME_ROK
    message_id: str | None = None  # on acceptance (None: the SMSC makes one up)
    lost: bool = False  # given, and lost with its connection


@dataclass(frozen=True)
class SmscReceipt:
    """A delivery receipt (deliver_sm): `form` is "text", "tlv" or "both"."""

    message_id: str
    stat: str
    form: str = "text"
    network_error: bytes | None = None


@dataclass(frozen=True)
class SmscInbound:
    """A deliver_sm from a handset."""

    text: bytes
    data_coding: int = 0


class SmscPeer:
    """The smpp34 SMSC, answering each submit_sm with the next declared answer."""

    def __init__(self, smsc: Smsc) -> None:
        self._smsc = smsc
        self._answers: list[SmscAnswer] = []
        self._unexpected: list[str] = []
        self._holding = False
        smsc.on_submit = self._on_submit

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        self._answers += [answer for answer in answers if isinstance(answer, SmscAnswer)]
        assert len(self._answers) == len(answers), "an smpp answer is an SmscAnswer"
        return submission

    async def push(self, report: object) -> bool:
        smsc = self._smsc
        if isinstance(report, SmscReceipt):
            sent = smsc.receipt(
                report.message_id, report.stat, form=report.form, network_error=report.network_error
            )
        elif isinstance(report, SmscInbound):
            sent = smsc.inbound(report.text, data_coding=report.data_coding)
        else:
            raise TypeError(f"not an smpp report: {report!r}")
        return bool((await sent).is_success)

    async def settle(self) -> None:
        """Every deliver_sm is pushed by the harness and awaited: nothing is under way."""

    def unused(self) -> list[str]:
        return [repr(answer) for answer in self._answers]

    def unexpected(self) -> list[str]:
        return list(self._unexpected)

    def hold(self) -> None:
        self._holding = True

    async def held(self) -> None:
        await self._smsc.wait_for(lambda: self._smsc.held)

    def release(self) -> None:
        self._holding = False
        for submitted in self._smsc.held:
            self._answer(submitted)

    def _on_submit(self, submitted: Submitted) -> None:
        if not self._holding:
            self._answer(submitted)

    def _answer(self, submitted: Submitted) -> None:
        if not self._answers:
            self._unexpected.append(f"submit_sm to {submitted.destination_addr}")
            self._smsc.answer(submitted, status=ESME_RSYSERR)
            return
        answer = self._answers.pop(0)
        if answer.lost:
            self._smsc.drop_on_response += 1
        self._smsc.answer(submitted, answer.message_id, status=answer.status)


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    smsc = await Smsc().start()
    config = SmppConfig(
        host="127.0.0.1",
        port=smsc.port,
        system_id="contract",
        password=PASSWORD,
        response_timeout="2s",
        reconnect_min="20ms",
        reconnect_max="160ms",
    )
    connector = SmppConnector(NAME, config, password=PASSWORD)
    connector.throttle_pause = THROTTLE_PAUSE_MS / 1000
    try:
        await connector.start(receipts, inbound)
        await smsc.wait_for(lambda: smsc.sessions)
        yield Rig(connector, SmscPeer(smsc), config, secrets=(PASSWORD,))
    finally:
        await connector.close()
        await smsc.stop()


def _rejected(code: int, message: str) -> SubmitResult:
    return SubmitResult(ATTEMPT, REJECTED, error_code=code, error_message=message)


def _receipt(
    message_id: str, status: str, code: int | None = None, why: str | None = None
) -> Receipt:
    return Receipt(status, provider_message_id=message_id, error_code=code, error_message=why)


LONG = msgspec.structs.replace(SUBMISSION, content={"text": "w" * 400})  # three parts
SYSTEM_ERROR = "SMPP ESME_RSYSERR (0x00000008): System error"

SUBMITS = (
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="accepted with the SMSC's message id",
        answers=(SmscAnswer(message_id="M-1"),),
        result=SubmitResult(ATTEMPT, ACCEPTED, "M-1"),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label="a long text accepted part by part",
        submission=LONG,
        answers=tuple(SmscAnswer(message_id=f"P-{n}") for n in (1, 2, 3)),
        result=SubmitResult(ATTEMPT, ACCEPTED, "P-1", part_ids=("P-1", "P-2", "P-3")),
        was_submitted=True,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="refused: invalid destination",
        answers=(SmscAnswer(ESME_RINVDSTADR),),
        result=_rejected(21211, "SMPP ESME_RINVDSTADR (0x0000000B): Invalid destination address"),
        was_submitted=False,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="refused: system error",
        answers=(SmscAnswer(ESME_RSYSERR),),
        result=_rejected(30008, SYSTEM_ERROR),
        was_submitted=False,
    ),
    SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label="a long text refused at its second part",
        submission=LONG,
        answers=(SmscAnswer(message_id="P-1"), SmscAnswer(ESME_RSYSERR)),
        result=_rejected(30008, f"{SYSTEM_ERROR} (part 2; 1 part(s) already sent)"),
        was_submitted=True,
    ),
    *(
        SubmitCase(
            kind=Kind.SUBMIT_THROTTLED,
            label=f"throttled: {name}",
            answers=(SmscAnswer(status),),
            result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=THROTTLE_PAUSE_MS),
            was_submitted=False,
        )
        for name, status in (("ESME_RTHROTTLED", ESME_RTHROTTLED), ("ESME_RMSGQFUL", ESME_RMSGQFUL))
    ),
    SubmitCase(
        kind=Kind.SUBMIT_LOST,
        label="the answer is lost with the connection",
        answers=(SmscAnswer(lost=True),),
        result=None,
        was_submitted=None,
    ),
)

# stat (and message_state TLV) -> the receipt the engine hears
STATUSES = (
    ("DELIVRD", "text", (_receipt("M-1", "DELIVERED"),)),
    ("DELIVRD", "tlv", (_receipt("M-1", "DELIVERED"),)),
    (
        "UNDELIV",
        "text",
        (_receipt("M-1", "UNDELIVERED", 30003, "SMPP receipt stat:UNDELIV err:000"),),
    ),
    (
        "EXPIRED",
        "text",
        (_receipt("M-1", "UNDELIVERED", 30003, "SMPP receipt stat:EXPIRED err:000"),),
    ),
    (
        "DELETED",
        "text",
        (_receipt("M-1", "UNDELIVERED", 30008, "SMPP receipt stat:DELETED err:000"),),
    ),
    ("REJECTD", "tlv", (_receipt("M-1", "FAILED", 30007, "SMPP receipt stat:REJECTD"),)),
    ("ACCEPTD", "both", (_receipt("M-1", "SENT"),)),
    ("ENROUTE", "tlv", (_receipt("M-1", "SENT"),)),
    ("UNKNOWN", "text", ()),  # acknowledged, and nothing to report
)

REPORTS = (
    *(
        ReportCase(
            kind=Kind.STATUS_MAPPED,
            label=f"receipt {stat} ({form})",
            provider_status=stat,
            reports=(SmscReceipt("M-1", stat, form),),
            receipts=receipts,
        )
        for stat, form, receipts in STATUSES
    ),
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="receipt UNDELIV with a network error",
        provider_status="UNDELIV",
        reports=(SmscReceipt("M-1", "UNDELIV", "tlv", network_error=b"\x03\x00\x01"),),
        receipts=(
            _receipt(
                "M-1", "UNDELIVERED", 30003, "SMPP receipt stat:UNDELIV network_error:GSM/0x0001"
            ),
        ),
    ),
    *(
        ReportCase(
            kind=Kind.INBOUND,
            label=f"a handset writes {text!r}",
            reports=(SmscInbound(text.encode(codec), coding),),
            inbound=(Inbound(NAME, "SMS", "+14155550123", "+14155550100", text),),
        )
        for text, codec, coding in (("STOP", "ascii", 0), ("Стоп", "utf-16-be", 8))
    ),
    ReportCase(
        kind=Kind.DUPLICATE_RECEIPT,
        label="the same receipt twice: each reported and acknowledged",
        reports=(SmscReceipt("M-1", "DELIVRD"),) * 2,
        receipts=(_receipt("M-1", "DELIVERED"),) * 2,
    ),
    ReportCase(
        kind=Kind.STORED_BEFORE_ACK,
        label="deliver_sm_resp only once the receipt and the message are stored",
        reports=(SmscReceipt("M-1", "DELIVRD"), SmscInbound(b"STOP")),
        receipts=(_receipt("M-1", "DELIVERED"),),
        inbound=(Inbound(NAME, "SMS", "+14155550123", "+14155550100", "STOP"),),
    ),
    EarlyReceiptCase(
        label="the receipt before the submit_sm_resp",
        answers=(SmscAnswer(message_id="EARLY-1"),),
        reports=(SmscReceipt("EARLY-1", "DELIVRD"),),
        result=SubmitResult(ATTEMPT, ACCEPTED, "EARLY-1"),
        receipts=(_receipt("EARLY-1", "DELIVERED"),),
    ),
)

SMPP = Contract(
    name="smpp",
    start=start,
    cases=(*SUBMITS, *REPORTS),
    provider_statuses=frozenset(STATES),
    not_applicable={
        Kind.HANDSHAKE: "an SMSC reports over the bind the connector opened: no webhook",
        Kind.FORGED_REPORT: "an SMSC reports over the bind the connector authenticated "
        "(system_id and password): there is no signature to forge",
    },
)
