"""The harness fails where it should: a case declared and unused, a request nothing was
declared for, a secret shown, a connection off loopback, a declaration with holes."""

from __future__ import annotations

import dataclasses
import json
import logging
import socket
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

import httpx
import pytest

from opencomms.connectors.base import (
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitResult,
    WebhookAnswer,
    WebhookRequest,
)
from opencomms.connectors.simulator import Behaviour
from tests.connectors.contract.cases import (
    Case,
    Contract,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
    WebhookPeer,
)
from tests.connectors.contract.runner import (
    RUNNERS,
    check_declarations,
    refuse_remote_connections,
    run_case,
)
from tests.connectors.contract.simulator_cases import SIMULATOR, SimulatorReport
from tests.support.webhook_host import hosting_webhooks

TOKEN = "tok-7Hq2Lx9"


def submit_case(label: str) -> SubmitCase:
    case = next(c for c in SIMULATOR.cases if c.label == label)
    assert isinstance(case, SubmitCase)
    return case


ACCEPTED_SMS = submit_case("SMS: DELIVER accepted")


async def run(case: Case, caplog: pytest.LogCaptureFixture, contract: Contract = SIMULATOR) -> None:
    await run_case(contract, case, caplog, [])


def test_every_kind_has_a_runner() -> None:
    assert set(RUNNERS) == set(Kind)


async def test_the_declared_case_passes(caplog: pytest.LogCaptureFixture) -> None:
    await run(ACCEPTED_SMS, caplog)


async def test_an_answer_never_asked_for_fails(caplog: pytest.LogCaptureFixture) -> None:
    twice = dataclasses.replace(ACCEPTED_SMS, answers=(Behaviour.DELIVER, Behaviour.DELIVER))
    with pytest.raises(AssertionError, match="never asked for"):
        await run(twice, caplog)


async def test_a_request_nothing_was_declared_for_fails(caplog: pytest.LogCaptureFixture) -> None:
    unanswered = dataclasses.replace(ACCEPTED_SMS, answers=())
    with pytest.raises(AssertionError, match="no answer was declared"):
        await run(unanswered, caplog)


async def test_a_receipt_not_declared_fails(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(AssertionError):
        await run(dataclasses.replace(ACCEPTED_SMS, receipts=()), caplog)


async def test_a_case_of_the_wrong_type_for_its_kind_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(AssertionError, match="is a ReportCase"):
        await run(dataclasses.replace(ACCEPTED_SMS, kind=Kind.STATUS_MAPPED), caplog)


@dataclasses.dataclass(frozen=True)
class TokenSettings:
    """A connector's settings with a secret field the rig does not declare itself."""

    api_token: str = dataclasses.field(default=TOKEN, repr=False)
    api_token_env: str = "NOT_A_SECRET"


@dataclasses.dataclass(frozen=True)
class ShownTokenSettings:
    """The same, with a repr that shows the token."""

    api_token: str = TOKEN


def leaky(where: str) -> Contract:
    """The simulator's contract with settings holding a token, shown in `where`."""

    @asynccontextmanager
    async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
        async with SIMULATOR.start(receipts, inbound) as rig:
            if where == "log":
                logging.getLogger("opencomms.connectors.leaky").debug("token=%s", TOKEN)
            config = ShownTokenSettings() if where == "repr" else TokenSettings()
            yield dataclasses.replace(rig, config=config)

    return dataclasses.replace(SIMULATOR, start=start)


@pytest.mark.parametrize("where", ["log", "repr"])
async def test_a_secret_of_the_settings_shown_fails(
    where: str, caplog: pytest.LogCaptureFixture
) -> None:
    with pytest.raises(AssertionError, match=f"a secret shows in a {where}"):
        await run(ACCEPTED_SMS, caplog, leaky(where))


async def test_a_secret_in_an_error_message_fails(caplog: pytest.LogCaptureFixture) -> None:
    @asynccontextmanager
    async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
        async with SIMULATOR.start(receipts, inbound) as rig:
            yield dataclasses.replace(rig, secrets=("Recipient does not have RCS",))

    refused = submit_case("RCS: refused")
    with pytest.raises(AssertionError, match="a secret shows in a repr"):
        await run(refused, caplog, dataclasses.replace(SIMULATOR, start=start))


def test_a_connection_off_loopback_is_refused_and_recorded(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    attempts = refuse_remote_connections(monkeypatch)
    with socket.socket() as sock, pytest.raises(OSError, match="off loopback"):
        sock.connect(("192.0.2.1", 2775))
    with socket.socket() as listener, socket.socket() as sock:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        sock.connect(listener.getsockname())
    assert attempts == ["('192.0.2.1', 2775)"]


def test_a_declaration_with_holes_is_reported() -> None:
    throttled = next(c for c in SIMULATOR.cases if c.kind is Kind.SUBMIT_THROTTLED)
    holed = dataclasses.replace(
        SIMULATOR,
        cases=(
            *(c for c in SIMULATOR.cases if c is not throttled),
            dataclasses.replace(ACCEPTED_SMS, label="lost, yet accepted", kind=Kind.SUBMIT_LOST),
            ReportCase(
                kind=Kind.DUPLICATE_RECEIPT,
                label="two different reports",
                reports=(SimulatorReport(Behaviour.DELIVER), SimulatorReport(Behaviour.SILENT)),
            ),
            ReportCase(kind=Kind.STATUS_MAPPED, label="no status named", reports=()),
            ReportCase(kind=Kind.INBOUND, label="inbound heard nothing", reports=()),
        ),
        provider_statuses=SIMULATOR.provider_statuses | {"BOUNCED_TWICE"},
    )
    assert sorted(check_declarations(holed)) == sorted(
        [
            "no case for <Kind.SUBMIT_THROTTLED: 'submit throttled'>, and no reason why",
            "<Kind.SUBMIT_LOST: 'submit lost in flight'> is declared not applicable, yet has cases",
            "<Kind.DUPLICATE_RECEIPT: 'duplicated receipt'> is declared not applicable, "
            "yet has cases",
            "provider status 'BOUNCED_TWICE' has no case",
            "provider status 'THROTTLE_ONCE' has no case",
            "lost, yet accepted: a submit lost in flight case expects None, not ACCEPTED",
            "two different reports: a duplicated receipt case sends one report twice",
            "no status named: a status case names the provider status it maps",
            "inbound heard nothing: an inbound case expects an inbound message",
        ]
    )


# --- a connector whose provider reports over webhooks ---------------------------------------
# The smallest such connector and its peer, as a connector over HTTP declares them: the
# connector hosted on the real `/webhooks/{name}` route (tests/support/webhook_host.py),
# the peer posting signed reports to it. `careless` connectors show the harness failing.

SIGNING_KEY = "whk-3Jd8Qz"
GOOD = "signed-right"


@dataclasses.dataclass(frozen=True)
class SignedReport:
    """A report as the provider posts it: a status of one message, and a signature."""

    message_id: str
    status: str
    signature: str = GOOD


@dataclasses.dataclass(frozen=True)
class WebhookSettings:
    signing_key: str = dataclasses.field(default=SIGNING_KEY, repr=False)


class TinyWebhookConnector:
    """Verifies the signature header; `careless`: "trusts" = takes a bad signature,
    "hasty" = answers 200 before the report is stored."""

    name = "tiny"
    channels = frozenset({"SMS"})

    def __init__(self, careless: str = "") -> None:
        self.careless = careless
        self._receipts: ReceiptHandler | None = None

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts

    async def submit(
        self, submissions: Sequence[Submission], answered: object = None
    ) -> list[SubmitResult]:
        raise AssertionError("not submitted to in these cases")

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        return dict.fromkeys(attempt_ids)

    async def close(self) -> None:
        pass

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        if request.headers.get("x-signature") != GOOD and self.careless != "trusts":
            return WebhookAnswer(403, b"bad signature")
        assert self._receipts is not None
        report = json.loads(request.body)
        stored = self._receipts(Receipt(report["status"], provider_message_id=report["id"]))
        if self.careless != "hasty":
            await stored
        return WebhookAnswer(200)


class TinyWebhookPeer:
    def __init__(self, url: str) -> None:
        self._url = url
        self._statuses: list[int] = []

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        assert not answers, "not submitted to in these cases"
        return submission

    async def push(self, report: object) -> bool:
        assert isinstance(report, SignedReport)
        body = json.dumps({"id": report.message_id, "status": report.status})
        async with httpx.AsyncClient() as client:
            answer = await client.post(
                self._url, content=body, headers={"X-Signature": report.signature}
            )
        self._statuses.append(answer.status_code)
        return answer.status_code == 200

    async def settle(self) -> None:
        """Every report is pushed by the harness: nothing under way."""

    def unused(self) -> list[str]:
        return []

    def unexpected(self) -> list[str]:
        return []

    def answered(self) -> list[int]:
        return list(self._statuses)


def tiny_contract(careless: str = "") -> Contract:
    @asynccontextmanager
    async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
        connector = TinyWebhookConnector(careless)
        await connector.start(receipts, inbound)
        async with hosting_webhooks({connector.name: connector}) as base_url:
            peer = TinyWebhookPeer(f"{base_url}/webhooks/{connector.name}")
            yield Rig(connector, peer, WebhookSettings())  # type: ignore[arg-type]

    return Contract("tiny", start, TINY_CASES, frozenset({"DELIVERED"}))


DELIVERED = Receipt("DELIVERED", provider_message_id="M-1")
FORGED = ReportCase(
    kind=Kind.FORGED_REPORT,
    label="forged: a wrong signature, and none",
    reports=(SignedReport("M-1", "DELIVERED", "forged"), SignedReport("M-1", "DELIVERED", "")),
)
STORED_FIRST = ReportCase(
    kind=Kind.STORED_BEFORE_ACK,
    label="200 once stored",
    reports=(SignedReport("M-1", "DELIVERED"),),
    receipts=(DELIVERED,),
)
TINY_CASES: tuple[Case, ...] = (
    ReportCase(
        kind=Kind.STATUS_MAPPED,
        label="delivered",
        provider_status="DELIVERED",
        reports=(SignedReport("M-1", "DELIVERED"),),
        receipts=(DELIVERED,),
    ),
    FORGED,
    STORED_FIRST,
)


def test_a_webhook_peer_is_a_webhook_peer() -> None:
    assert isinstance(TinyWebhookPeer("http://127.0.0.1:1"), WebhookPeer)


@pytest.mark.parametrize("case", TINY_CASES, ids=lambda case: case.label)
async def test_a_careful_webhook_connector_passes(
    case: Case, caplog: pytest.LogCaptureFixture
) -> None:
    await run(case, caplog, tiny_contract())


async def test_a_forged_report_taken_fails(caplog: pytest.LogCaptureFixture) -> None:
    with pytest.raises(AssertionError, match="a forged report was acknowledged"):
        await run(FORGED, caplog, tiny_contract("trusts"))


async def test_a_forged_report_refused_with_another_status_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    @asynccontextmanager
    async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
        async with tiny_contract().start(receipts, inbound) as rig:

            async def broken(request: WebhookRequest) -> WebhookAnswer:
                return WebhookAnswer(400)

            rig.connector.webhook = broken  # type: ignore[attr-defined]
            yield rig

    with pytest.raises(AssertionError, match=r"forged reports answered \[400, 400\]"):
        await run(FORGED, caplog, dataclasses.replace(tiny_contract(), start=start))


async def test_an_acknowledgement_before_the_report_is_stored_fails(
    caplog: pytest.LogCaptureFixture,
) -> None:
    with pytest.raises(AssertionError, match="acknowledged before it was stored"):
        await run(STORED_FIRST, caplog, tiny_contract("hasty"))


def test_a_webhook_case_that_hears_nothing_or_sends_nothing_is_reported() -> None:
    holed = dataclasses.replace(
        tiny_contract(),
        cases=(
            *TINY_CASES,
            dataclasses.replace(FORGED, label="forged, yet heard", receipts=(DELIVERED,)),
            dataclasses.replace(STORED_FIRST, label="nothing to store", receipts=()),
            ReportCase(kind=Kind.HANDSHAKE, label="no handshake sent", reports=()),
        ),
    )
    assert sorted(check_declarations(holed)) == sorted(
        [
            "no case for <Kind.SUBMIT_ACCEPTED: 'submit accepted'>, and no reason why",
            "no case for <Kind.SUBMIT_REFUSED: 'submit refused'>, and no reason why",
            "no case for <Kind.SUBMIT_THROTTLED: 'submit throttled'>, and no reason why",
            "no case for <Kind.SUBMIT_LOST: 'submit lost in flight'>, and no reason why",
            "no case for <Kind.INBOUND: 'inbound message'>, and no reason why",
            "no case for <Kind.DUPLICATE_RECEIPT: 'duplicated receipt'>, and no reason why",
            "no case for <Kind.EARLY_RECEIPT: 'early receipt'>, and no reason why",
            "forged, yet heard: the engine hears nothing of a forged report refused case",
            "nothing to store: an acknowledged-once-stored case reports something to store",
            "no handshake sent: a webhook handshake case sends a report",
        ]
    )
