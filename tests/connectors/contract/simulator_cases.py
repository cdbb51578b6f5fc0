"""The simulator's contract: the simulator is its own peer, driven by its magic addresses.

Its answers are `Behaviour`s: the peer sends the submission to the address that makes
the simulator behave so (from the simulator's own tables), and counts what was asked
for in the simulator's submit log. Its reports are what a behaviour reports on an
attempt the peer submits for the purpose.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

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
from opencomms.connectors.simulator import (
    MAGIC_EMAIL_LOCAL_PARTS,
    MAGIC_NUMBERS,
    THROTTLE_RETRY_MS,
    Behaviour,
    Simulator,
)
from opencomms.domain.errors import RCS_NOT_ENABLED, UNKNOWN, UNREACHABLE, WHATSAPP_NOT_FOUND
from opencomms.settings import SimulatorSettings
from tests.connectors.contract.cases import (
    ATTEMPT,
    SUBMISSION,
    Contract,
    Kind,
    ReportCase,
    Rig,
    SubmitCase,
)

__all__ = ["SIMULATOR"]

REPORTED = "SM" + "5e" * 16  # the attempt the peer submits to have a report made
ORDINARY_NUMBER = "+14155551234"
ORDINARY_EMAIL = "ada@example.com"
SETTLE_WITHIN = 2.0  # seconds for the simulator's receipt timers to run out
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome


@dataclass(frozen=True)
class SimulatorReport:
    """What the simulator reports on its own of an attempt sent on `channel` to an
    address of this behaviour."""

    behaviour: Behaviour
    channel: str = "SMS"


class SimulatorPeer:
    def __init__(self, simulator: Simulator, log: Path) -> None:
        self._simulator = simulator
        self._log = log
        self._answers: dict[str, list[Behaviour]] = {}

    def expect(self, submission: Submission, answers: Sequence[object]) -> Submission:
        behaviours = [answer for answer in answers if isinstance(answer, Behaviour)]
        assert len(behaviours) == len(answers), "a simulator answer is a Behaviour"
        self._answers.setdefault(submission.attempt_id, []).extend(behaviours)
        if not behaviours:
            return submission
        address = self._address(submission.channel, behaviours[0])
        return msgspec.structs.replace(submission, to_address=address)

    async def push(self, report: object) -> bool:
        assert isinstance(report, SimulatorReport), f"not a simulator report: {report!r}"
        address = self._address(report.channel, report.behaviour)
        submission = msgspec.structs.replace(
            SUBMISSION, attempt_id=REPORTED, channel=report.channel, to_address=address
        )
        await self._simulator.submit([submission])
        await self.settle()
        return True

    async def settle(self) -> None:
        loop = asyncio.get_running_loop()
        deadline = loop.time() + SETTLE_WITHIN
        while self._simulator._timers:
            assert loop.time() < deadline, "the simulator's receipts never all went out"
            await asyncio.sleep(0.001)

    def unused(self) -> list[str]:
        asked = self._asked()
        return [
            f"{attempt}: {behaviour.name}"
            for attempt, behaviours in self._answers.items()
            for behaviour in behaviours[asked.count(attempt) :]
        ]

    def unexpected(self) -> list[str]:
        asked = self._asked()
        return [
            f"a submit of {attempt}"
            for attempt in set(asked) - {REPORTED}
            for _ in range(asked.count(attempt) - len(self._answers.get(attempt, [])))
        ]

    def _asked(self) -> list[str]:
        """The attempt id of each submit the simulator took, from its submit log."""
        lines = self._log.read_text().splitlines() if self._log.exists() else []
        return [json.loads(line)["attemptId"] for line in lines]

    def _address(self, channel: str, behaviour: Behaviour) -> str:
        """The first address that makes the simulator behave so on this channel."""
        if channel == "EMAIL":
            candidates = [f"{local}@example.com" for local in MAGIC_EMAIL_LOCAL_PARTS]
            candidates.append(ORDINARY_EMAIL)
        else:
            candidates = [f"+1415555{ending}" for ending in MAGIC_NUMBERS]
            candidates.append(ORDINARY_NUMBER)
        for address in candidates:
            if self._simulator._behaviour(channel, address) is behaviour:
                return address
        raise LookupError(f"no address makes the simulator {behaviour.name} on {channel}")


@asynccontextmanager
async def start(receipts: ReceiptHandler, inbound: InboundHandler) -> AsyncIterator[Rig]:
    with tempfile.TemporaryDirectory() as directory:
        log = Path(directory) / "submits.jsonl"
        # no latency and no random outcome; the submit log is what the peer counts
        settings = SimulatorSettings(receipt_latency_ms=[0, 0], submit_log=str(log))
        simulator = Simulator(settings)
        await simulator.start(receipts, inbound)
        try:
            yield Rig(simulator, SimulatorPeer(simulator, log), settings)
        finally:
            await simulator.close()


def _accepted(channel: str, behaviour: Behaviour, *statuses: str) -> SubmitCase:
    return SubmitCase(
        kind=Kind.SUBMIT_ACCEPTED,
        label=f"{channel}: {behaviour.name} accepted",
        submission=msgspec.structs.replace(SUBMISSION, channel=channel),
        answers=(behaviour,),
        result=SubmitResult(ATTEMPT, ACCEPTED),
        was_submitted=True,
        receipts=tuple(Receipt(status, ATTEMPT) for status in statuses),
        provider_status=behaviour.name,
    )


def _refused(channel: str, code: int, message: str) -> SubmitCase:
    return SubmitCase(
        kind=Kind.SUBMIT_REFUSED,
        label=f"{channel}: refused",
        submission=msgspec.structs.replace(SUBMISSION, channel=channel),
        answers=(Behaviour.REJECT,),
        result=SubmitResult(ATTEMPT, REJECTED, error_code=code, error_message=message),
        was_submitted=False,
        provider_status=Behaviour.REJECT.name,
    )


def _reported(behaviour: Behaviour, channel: str, *receipts: Receipt) -> ReportCase:
    return ReportCase(
        kind=Kind.STATUS_MAPPED,
        label=f"{channel}: {behaviour.name} reported",
        reports=(SimulatorReport(behaviour, channel),),
        receipts=receipts,
        provider_status=behaviour.name,
    )


UNDELIVERED = Receipt("UNDELIVERED", REPORTED, None, UNREACHABLE.code, UNREACHABLE.message)

SUBMITS = (
    _accepted("SMS", Behaviour.DELIVER, "DELIVERED"),
    _accepted("RCS", Behaviour.DELIVER_AND_READ, "DELIVERED", "READ"),
    _accepted("EMAIL", Behaviour.DELIVER, "DELIVERED"),
    _accepted("WHATSAPP", Behaviour.SILENT),
    _refused("RCS", RCS_NOT_ENABLED.code, RCS_NOT_ENABLED.message),
    _refused("WHATSAPP", WHATSAPP_NOT_FOUND.code, WHATSAPP_NOT_FOUND.message),
    _refused("SMS", UNKNOWN.code, UNKNOWN.message),
    _refused("EMAIL", UNKNOWN.code, UNKNOWN.message),
    SubmitCase(
        kind=Kind.SUBMIT_THROTTLED,
        label="SMS: throttled once",
        answers=(Behaviour.THROTTLE_ONCE,),
        result=SubmitResult(ATTEMPT, THROTTLED, retry_after_ms=THROTTLE_RETRY_MS),
        was_submitted=False,
        provider_status=Behaviour.THROTTLE_ONCE.name,
    ),
)

REPORTS = (
    _reported(Behaviour.DELIVER, "SMS", Receipt("DELIVERED", REPORTED)),
    _reported(
        Behaviour.DELIVER_AND_READ,
        "WHATSAPP",
        Receipt("DELIVERED", REPORTED),
        Receipt("READ", REPORTED),
    ),
    _reported(Behaviour.UNDELIVER, "SMS", UNDELIVERED),
    _reported(Behaviour.UNDELIVER, "EMAIL", UNDELIVERED),
    _reported(Behaviour.SILENT, "RCS"),
    ReportCase(
        kind=Kind.INBOUND,
        label="SMS: delivered, then the recipient answers STOP",
        reports=(SimulatorReport(Behaviour.DELIVER_THEN_STOP),),
        receipts=(Receipt("DELIVERED", REPORTED),),
        inbound=(Inbound("simulator", "SMS", "+14155550009", SUBMISSION.from_address, "STOP"),),
        provider_status=Behaviour.DELIVER_THEN_STOP.name,
    ),
)

SIMULATOR = Contract(
    name="simulator",
    start=start,
    cases=(*SUBMITS, *REPORTS),
    provider_statuses=frozenset(behaviour.name for behaviour in Behaviour),
    not_applicable={
        Kind.SUBMIT_LOST: "the simulator answers every submit it takes; an answer lost "
        "in a crash is the engine's crash tests' business",
        Kind.DUPLICATE_RECEIPT: "the simulator sends a receipt twice only after a restart, "
        "from its submit log (tests/connectors/test_simulator.py)",
        Kind.EARLY_RECEIPT: "the simulator schedules receipts once it has answered",
        Kind.STORED_BEFORE_ACK: "the simulator is in the process: it has no provider to "
        "acknowledge a report to",
        Kind.HANDSHAKE: "the simulator is in the process: no webhook",
        Kind.FORGED_REPORT: "the simulator is in the process: no signature to forge",
    },
)
