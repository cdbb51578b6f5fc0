"""What a connector declares to the contract harness: its cases, its test peer, its rig.

A case is data: the submission or the provider's report, what the test peer answers,
and everything the engine must hear back. What the peer answers and reports is data of
the peer's own kind (an SMPP command_status, an HTTP status and body, an SMTP reply):
the harness hands it to the connector's `Peer` without reading it, so a connector over
HTTP or SMTP declares its cases with the same types as the smpp one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Protocol, runtime_checkable

from opencomms.connectors.base import (
    Connector,
    Inbound,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitResult,
)

__all__ = [
    "ATTEMPT",
    "SUBMISSION",
    "Case",
    "Contract",
    "EarlyReceiptCase",
    "HoldingPeer",
    "Kind",
    "Peer",
    "ReportCase",
    "Rig",
    "StartRig",
    "SubmitCase",
    "WebhookPeer",
]

ATTEMPT = "SM" + "c0" * 16  # the attempt id of every case's submission
SUBMISSION = Submission(
    attempt_id=ATTEMPT,
    message_id="comms_message_contract",
    operation_id="comms_operation_contract",
    account_sid="AC" + "0" * 32,
    channel="SMS",
    from_address="+14155550100",
    to_address="+14155551234",
    content={"text": "Hello"},
)


class Kind(StrEnum):
    """What a case shows; each connector covers every kind, or says why it cannot."""

    SUBMIT_ACCEPTED = "submit accepted"
    SUBMIT_REFUSED = "submit refused"
    SUBMIT_THROTTLED = "submit throttled"
    SUBMIT_LOST = "submit lost in flight"
    STATUS_MAPPED = "provider status mapped"
    INBOUND = "inbound message"
    DUPLICATE_RECEIPT = "duplicated receipt"
    EARLY_RECEIPT = "early receipt"
    # a report is acknowledged only once the engine has stored it (the harness stores slowly)
    STORED_BEFORE_ACK = "acknowledged once stored"
    # a provider's webhook subscription handshake (a GET challenge, a posted secret):
    # answered as the provider expects, and the engine hears nothing
    HANDSHAKE = "webhook handshake"
    # a report whose signature does not verify (wrong, missing, a wrong verify token):
    # refused with 401 or 403, and the engine hears nothing
    FORGED_REPORT = "forged report refused"


@dataclass(frozen=True, kw_only=True)
class Case:
    kind: Kind
    label: str
    # what the engine hears during the case, in order, and nothing else
    receipts: tuple[Receipt, ...] = ()
    inbound: tuple[Inbound, ...] = ()
    # the row of the connector's table of provider statuses this case covers
    provider_status: str | None = None


@dataclass(frozen=True, kw_only=True)
class SubmitCase(Case):
    """One submission; the peer answers each request it makes with `answers`, in order."""

    answers: tuple[object, ...]
    result: SubmitResult | None  # None: left out of the results (in doubt, never resent)
    was_submitted: bool | None  # what `was_submitted` says of it afterwards
    submission: Submission = SUBMISSION


@dataclass(frozen=True, kw_only=True)
class ReportCase(Case):
    """The provider reports (a status, a message from a handset, a handshake), one report
    after the other; each must be acknowledged (a FORGED_REPORT case: each refused)."""

    reports: tuple[object, ...]


@dataclass(frozen=True, kw_only=True)
class EarlyReceiptCase(Case):
    """The provider reports on a submission before its answer to the submit arrives."""

    kind: Kind = Kind.EARLY_RECEIPT
    answers: tuple[object, ...]  # held until every report was acknowledged
    reports: tuple[object, ...]
    result: SubmitResult
    submission: Submission = SUBMISSION


class Peer(Protocol):
    """The connector's provider in a test: a real server on loopback (an SMSC, an HTTP
    or SMTP server) or, for the simulator, the simulator's own scripted behaviours."""

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        """Answer the requests `submission` makes with `answers`, in order; return the
        submission to send (a peer scripted by address picks the address)."""

    async def push(self, report: object) -> bool:
        """Send the connector `report`; True once the connector acknowledged it."""

    async def settle(self) -> None:
        """Return once every report the peer started on its own was handed over."""

    def unused(self) -> list[str]:
        """The declared answers nothing asked for."""

    def unexpected(self) -> list[str]:
        """The requests no answer was declared for."""


@runtime_checkable
class HoldingPeer(Peer, Protocol):
    """A peer that can keep its answers back: what an early receipt case needs."""

    def hold(self) -> None: ...

    async def held(self) -> None:
        """Return once a request waits for its answer."""

    def release(self) -> None:
        """Answer every request held, and stop holding."""


@runtime_checkable
class WebhookPeer(Peer, Protocol):
    """A peer whose provider reports over HTTP, to the connector's `/webhooks/{name}`
    route (hosted by `tests/support/webhook_host.py`): `push` is acknowledged when the
    answer is 200, and the harness checks each answer's status."""

    def answered(self) -> list[int]:
        """The HTTP status of the answer to each push so far, in order."""


@dataclass(frozen=True)
class Rig:
    """A started connector and its peer, for one case."""

    connector: Connector
    peer: Peer
    config: object  # the connector's settings: its secret fields are found here too
    secrets: tuple[str, ...] = ()  # values that must never show (password, token, key)


# starts the peer and the connector (reporting to the handlers given), and stops both
StartRig = Callable[[ReceiptHandler, InboundHandler], AbstractAsyncContextManager[Rig]]


@dataclass(frozen=True)
class Contract:
    """A connector's declaration: how to start it against its peer, and its cases."""

    name: str
    start: StartRig
    cases: tuple[Case, ...]
    # the connector's own table of provider statuses: each row needs a case
    provider_statuses: frozenset[str]
    not_applicable: Mapping[Kind, str] = field(default_factory=dict)  # kind -> why
