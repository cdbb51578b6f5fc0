"""Runs one case of a connector's contract, and checks a contract's declarations.

Every case runs against a fresh rig (connector and peer). It fails when what the
engine hears differs from the case, when a declared answer of the peer was never asked
for (or a request came that nothing was declared for), when a report is not
acknowledged (a forged one: when it is not refused with 401/403), when a report is
acknowledged before the engine stored it (a STORED_BEFORE_ACK case stores slowly), when
a webhook peer's acknowledgement is not a 200, when the connector opens a connection
off loopback, and when one of the connector's secrets shows in a log line (DEBUG and
up), a repr, or an error.
"""

from __future__ import annotations

import asyncio
import dataclasses
import ipaddress
import logging
import re
import socket
import traceback
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

import pytest

from opencomms.connectors.base import Inbound, Receipt, SubmitOutcome, SubmitResult
from tests.connectors.contract.cases import (
    Case,
    Contract,
    EarlyReceiptCase,
    HoldingPeer,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
    WebhookPeer,
)

__all__ = ["check_declarations", "run_case"]

# settings fields that hold a secret (a `*_env` field names a variable, not a secret)
SECRET_FIELD = re.compile(r"password|secret|token|key", re.IGNORECASE)
SHORTEST_SECRET = 6  # a shorter one would be found in innocent text


class Heard:
    """The engine's side: what the connector reported, each stored at once, or after
    `store_delay_s` (to see that a report is acknowledged only once stored)."""

    def __init__(self, store_delay_s: float = 0.0) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []
        self.storing: list[asyncio.Future[None]] = []
        self.store_delay_s = store_delay_s

    def on_receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        self.receipts.append(receipt)
        return self._stored()

    def on_inbound(self, inbound: Inbound) -> asyncio.Future[None]:
        self.inbound.append(inbound)
        return self._stored()

    def _stored(self) -> asyncio.Future[None]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[None] = loop.create_future()
        self.storing.append(future)
        if self.store_delay_s:
            loop.call_later(self.store_delay_s, _done, future)
        else:
            future.set_result(None)
        return future

    def all_stored(self) -> bool:
        return all(future.done() for future in self.storing)


def _done(future: asyncio.Future[None]) -> None:
    if not future.done():
        future.set_result(None)


# --- running a case ----------------------------------------------------------------------

Runner = Callable[[Any, Rig, Heard], Awaitable[list[SubmitResult]]]
SLOW_STORE_S = 0.2  # how long a STORED_BEFORE_ACK case takes to store each report
REFUSALS = (401, 403)  # a forged webhook's answer


async def run_submit(case: SubmitCase, rig: Rig, heard: Heard) -> list[SubmitResult]:
    submission = rig.peer.expect(case.submission, case.answers)
    answered: list[SubmitResult] = []
    results = await rig.connector.submit([submission], answered.append)
    assert results == ([case.result] if case.result else [])
    # a connector reports each answer as it comes, or leaves it all to the list
    assert answered in ([], results)
    known = await rig.connector.was_submitted([submission.attempt_id])
    assert known == {submission.attempt_id: case.was_submitted}
    return results


async def run_reports(case: ReportCase, rig: Rig, heard: Heard) -> list[SubmitResult]:
    peer = rig.peer
    before = len(peer.answered()) if isinstance(peer, WebhookPeer) else 0
    for report in case.reports:
        assert await peer.push(report), f"report not acknowledged: {report!r}"
        if case.kind is Kind.STORED_BEFORE_ACK:
            assert heard.storing, f"nothing reported to the engine of {report!r}"
            assert heard.all_stored(), f"acknowledged before it was stored: {report!r}"
    if isinstance(peer, WebhookPeer):
        statuses = peer.answered()[before:]
        assert statuses == [200] * len(case.reports), f"webhooks answered {statuses}"
    return []


async def run_forged(case: ReportCase, rig: Rig, heard: Heard) -> list[SubmitResult]:
    peer = rig.peer
    assert isinstance(peer, WebhookPeer), "a forged report case needs a WebhookPeer"
    before = len(peer.answered())
    for report in case.reports:
        assert not await peer.push(report), f"a forged report was acknowledged: {report!r}"
    statuses = peer.answered()[before:]
    assert len(statuses) == len(case.reports), f"forged reports answered {statuses}"
    assert all(status in REFUSALS for status in statuses), f"forged reports answered {statuses}"
    return []


async def run_early_receipt(case: EarlyReceiptCase, rig: Rig, heard: Heard) -> list[SubmitResult]:
    peer = rig.peer
    assert isinstance(peer, HoldingPeer), "an early receipt needs a peer that holds answers"
    submission = peer.expect(case.submission, case.answers)
    peer.hold()
    submitting = asyncio.create_task(rig.connector.submit([submission]))
    await peer.held()
    for report in case.reports:
        assert await peer.push(report), f"report not acknowledged: {report!r}"
    peer.release()
    results = await submitting
    assert results == [case.result]
    return results


# kind -> the case type that declares it, and what runs it
RUNNERS: dict[Kind, tuple[type[Case], Runner]] = {
    Kind.SUBMIT_ACCEPTED: (SubmitCase, run_submit),
    Kind.SUBMIT_REFUSED: (SubmitCase, run_submit),
    Kind.SUBMIT_THROTTLED: (SubmitCase, run_submit),
    Kind.SUBMIT_LOST: (SubmitCase, run_submit),
    Kind.STATUS_MAPPED: (ReportCase, run_reports),
    Kind.INBOUND: (ReportCase, run_reports),
    Kind.DUPLICATE_RECEIPT: (ReportCase, run_reports),
    Kind.EARLY_RECEIPT: (EarlyReceiptCase, run_early_receipt),
    Kind.STORED_BEFORE_ACK: (ReportCase, run_reports),
    Kind.HANDSHAKE: (ReportCase, run_reports),
    Kind.FORGED_REPORT: (ReportCase, run_forged),
}


async def run_case(
    contract: Contract, case: Case, caplog: pytest.LogCaptureFixture, network: list[str]
) -> None:
    """Run `case` on a fresh rig; `network` collects connections made off loopback."""
    runs = RUNNERS.get(case.kind)
    assert runs is not None, f"the harness does not run {case.kind!r} cases"
    assert isinstance(case, runs[0]), f"a {case.kind} case is a {runs[0].__name__}"
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="opencomms")  # whatever an app set before
    heard = Heard(SLOW_STORE_S if case.kind is Kind.STORED_BEFORE_ACK else 0.0)
    async with contract.start(heard.on_receipt, heard.on_inbound) as rig:
        secrets = secrets_of(rig)
        try:
            results = await runs[1](case, rig, heard)
            await _check_heard(case, rig, heard)
        except Exception as error:
            _assert_hidden(secrets, "an error", ["".join(traceback.format_exception(error))])
            raise
        shown = [repr(rig.connector), repr(rig.config)]
        shown += [repr(item) for item in (*results, *heard.receipts, *heard.inbound)]
        _assert_hidden(secrets, "a repr", shown)
    _assert_hidden(secrets, "a log line", _log_lines(caplog.records))
    assert network == [], "connections off loopback"


async def _check_heard(case: Case, rig: Rig, heard: Heard) -> None:
    await rig.peer.settle()
    assert heard.receipts == list(case.receipts)
    assert heard.inbound == list(case.inbound)
    assert rig.peer.unused() == [], "answers declared and never asked for"
    assert rig.peer.unexpected() == [], "requests no answer was declared for"


# --- secrets -----------------------------------------------------------------------------


def secrets_of(rig: Rig) -> list[str]:
    """The rig's declared secrets and every secret field of its settings."""
    config = rig.config
    names = getattr(config, "__struct_fields__", None)
    if names is None and dataclasses.is_dataclass(config):
        names = tuple(f.name for f in dataclasses.fields(config))
    found = [
        value
        for name in names or ()
        if SECRET_FIELD.search(name) and not name.endswith("_env")
        if isinstance(value := getattr(config, name), str) and value
    ]
    secrets = [*rig.secrets, *found]
    short = [s for s in secrets if len(s) < SHORTEST_SECRET]
    assert not short, f"test secrets must be distinctive (at least {SHORTEST_SECRET} chars)"
    return secrets


def _assert_hidden(secrets: Iterable[str], where: str, texts: Iterable[str]) -> None:
    for text in texts:
        for secret in secrets:
            assert secret not in text, f"a secret shows in {where}: {text!r}"


def _log_lines(records: Iterable[logging.LogRecord]) -> list[str]:
    formatter = logging.Formatter()
    lines = []
    for record in records:
        line = record.getMessage()
        if record.exc_info:
            line += "\n" + formatter.formatException(record.exc_info)
        lines.append(line)
    return lines


# --- loopback only ---------------------------------------------------------------------


def refuse_remote_connections(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Make every connection off loopback fail as an unreachable network would, and
    return the list where each attempt is recorded (a connector may swallow the error
    and retry: the list still shows it)."""
    attempts: list[str] = []
    connect = socket.socket.connect

    def guarded(sock: socket.socket, address: Any) -> None:
        if sock.family in (socket.AF_INET, socket.AF_INET6) and not _loopback(address[0]):
            attempts.append(str(address))
            raise OSError(101, "off loopback: refused by the contract harness")
        connect(sock, address)

    monkeypatch.setattr(socket.socket, "connect", guarded)
    return attempts


def _loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"


# --- declarations --------------------------------------------------------------------------

OUTCOMES: dict[Kind, SubmitOutcome | None] = {
    Kind.SUBMIT_ACCEPTED: SubmitOutcome.ACCEPTED,
    Kind.SUBMIT_REFUSED: SubmitOutcome.REJECTED,
    Kind.SUBMIT_THROTTLED: SubmitOutcome.THROTTLED,
    Kind.SUBMIT_LOST: None,
}


def check_declarations(contract: Contract) -> list[str]:
    """What is wrong with a contract as declared (nothing run): kinds not covered nor
    excused, rows of the status table without a case, cases that do not show their kind."""
    problems = [*_coverage(contract), *_status_table(contract)]
    labels = [case.label for case in contract.cases]
    problems += [f"label used twice: {label}" for label in set(labels) if labels.count(label) > 1]
    for case in contract.cases:
        problems += [f"{case.label}: {problem}" for problem in _case_problems(case)]
    return problems


def _coverage(contract: Contract) -> list[str]:
    declared = {case.kind for case in contract.cases}
    excused = set(contract.not_applicable)
    missing = [kind for kind in Kind if kind not in declared | excused]
    return [f"no case for {kind!r}, and no reason why" for kind in missing] + [
        f"{kind!r} is declared not applicable, yet has cases" for kind in declared & excused
    ]


def _status_table(contract: Contract) -> list[str]:
    covered = {case.provider_status for case in contract.cases}
    return [
        f"provider status {status!r} has no case"
        for status in contract.provider_statuses
        if status not in covered
    ] + [
        f"provider status {status!r} is not in the connector's table"
        for status in covered - contract.provider_statuses
        if status is not None
    ]


def _case_problems(case: Case) -> list[str]:
    problems = []
    if case.kind is Kind.STATUS_MAPPED and case.provider_status is None:
        problems.append("a status case names the provider status it maps")
    if case.kind is Kind.INBOUND and not case.inbound:
        problems.append("an inbound case expects an inbound message")
    if case.kind in (Kind.FORGED_REPORT, Kind.HANDSHAKE) and (case.receipts or case.inbound):
        problems.append(f"the engine hears nothing of a {case.kind} case")
    webhook_kinds = (Kind.FORGED_REPORT, Kind.HANDSHAKE, Kind.STORED_BEFORE_ACK)
    if isinstance(case, ReportCase) and case.kind in webhook_kinds and not case.reports:
        problems.append(f"a {case.kind} case sends a report")
    if case.kind is Kind.STORED_BEFORE_ACK and not (case.receipts or case.inbound):
        problems.append("an acknowledged-once-stored case reports something to store")
    if isinstance(case, ReportCase) and case.kind is Kind.DUPLICATE_RECEIPT:
        reports = case.reports
        if not any(reports.count(report) > 1 for report in reports):
            problems.append("a duplicated receipt case sends one report twice")
    if isinstance(case, SubmitCase) and case.kind in OUTCOMES:
        outcome = case.result.outcome if case.result else None
        if outcome is not OUTCOMES[case.kind]:
            problems.append(f"a {case.kind} case expects {OUTCOMES[case.kind]}, not {outcome}")
    return problems
