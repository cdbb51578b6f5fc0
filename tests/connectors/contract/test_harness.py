"""The harness fails where it should: a case declared and unused, a request nothing was
declared for, a secret shown, a connection off loopback, a declaration with holes."""

from __future__ import annotations

import dataclasses
import logging
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import pytest

from opencomms.connectors.base import InboundHandler, ReceiptHandler
from opencomms.connectors.simulator import Behaviour
from tests.connectors.contract.cases import (
    Case,
    Contract,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
)
from tests.connectors.contract.runner import (
    RUNNERS,
    check_declarations,
    refuse_remote_connections,
    run_case,
)
from tests.connectors.contract.simulator_cases import SIMULATOR, SimulatorReport

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
