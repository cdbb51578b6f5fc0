"""The built-in carrier simulator (SIMULATOR.md): every channel, no carrier account needed.

It is a connector like any other: submits come through the interface, receipts go back
through the same handler a carrier's would, after a configurable latency. The last four
digits of a phone number (or the local part of an email address) pick the outcome.
With a submit log it remembers what it accepted across restarts, as a carrier does, and
re-delivers those receipts after a restart (receipts are idempotent for the engine).
Several processes on one database share the carrier, so they may share the log: each
appends its lines in single writes, and `was_submitted` reads what the others appended
since it last looked, so that a process taking over another's attempt knows whether the
carrier got it.
"""

from __future__ import annotations

import asyncio
import os
import random
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from enum import Enum, auto
from pathlib import Path
from typing import ClassVar

import msgspec

from opencomms.connectors.base import (
    AnswerHandler,
    Inbound,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitOutcome,
    SubmitResult,
)
from opencomms.connectors.pacing import FairPacer
from opencomms.domain.channels import SenderChannel
from opencomms.domain.errors import (
    RCS_NOT_ENABLED,
    UNKNOWN,
    UNREACHABLE,
    WHATSAPP_NOT_FOUND,
    DeliveryError,
)
from opencomms.settings import ConnectorSettings, SimulatorSettings

__all__ = ["Simulator", "SimulatorConnectorConfig"]


class Behaviour(Enum):
    DELIVER_AND_READ = auto()
    DELIVER = auto()  # delivered, never read
    UNDELIVER = auto()
    REJECT = auto()
    SILENT = auto()  # accepted, and no receipt ever comes
    THROTTLE_ONCE = auto()
    DELIVER_THEN_STOP = auto()  # delivered, then the recipient answers STOP


RCS, WHATSAPP, SMS, EMAIL = (
    SenderChannel.RCS,
    SenderChannel.WHATSAPP,
    SenderChannel.SMS,
    SenderChannel.EMAIL,
)
_PHONE_CHANNELS = (RCS, WHATSAPP, SMS)

# Magic endings of phone numbers: channel -> behaviour (channels not named behave normally).
MAGIC_NUMBERS: dict[str, dict[str, Behaviour]] = {
    "0001": {RCS: Behaviour.REJECT},
    "0002": {WHATSAPP: Behaviour.REJECT},
    "0003": {RCS: Behaviour.REJECT, WHATSAPP: Behaviour.REJECT},
    "0004": {SMS: Behaviour.UNDELIVER},
    "0005": dict.fromkeys(_PHONE_CHANNELS, Behaviour.REJECT),
    "0006": dict.fromkeys(_PHONE_CHANNELS, Behaviour.SILENT),
    "0007": dict.fromkeys(_PHONE_CHANNELS, Behaviour.THROTTLE_ONCE),
    "0008": dict.fromkeys(_PHONE_CHANNELS, Behaviour.DELIVER),
    "0009": dict.fromkeys(_PHONE_CHANNELS, Behaviour.DELIVER_THEN_STOP),
}
MAGIC_EMAIL_LOCAL_PARTS = {"fail": Behaviour.REJECT, "bounce": Behaviour.UNDELIVER}

REJECTION_ERRORS: dict[str, DeliveryError] = {
    RCS: RCS_NOT_ENABLED,
    WHATSAPP: WHATSAPP_NOT_FOUND,
    SMS: UNKNOWN,
    EMAIL: UNKNOWN,
}
THROTTLE_RETRY_MS = 200


class _LogLine(msgspec.Struct):
    attemptId: str
    messageId: str
    operationId: str
    channel: str
    to: str
    at: str
    result: str


def behaviour_for(channel: str, to: str) -> Behaviour | None:
    """The scripted behaviour for this address, or None for an ordinary one."""
    if channel == EMAIL:
        return MAGIC_EMAIL_LOCAL_PARTS.get(to.split("@", 1)[0])
    return MAGIC_NUMBERS.get(to[-4:], {}).get(channel)


class SimulatorConnectorConfig(ConnectorSettings, tag="simulator", kw_only=True):
    """Another simulator under its own name (`[connectors.<name>]`, `type = "simulator"`),
    e.g. to stand in for a carrier not yet contracted. It keeps no submit log."""

    channels: ClassVar[frozenset[str]] = frozenset(SenderChannel)
    durations: ClassVar[tuple[str, ...]] = ("fallback_timeout", "receipt_wait")


class Simulator:
    name = "simulator"
    channels: frozenset[str] = frozenset(SenderChannel)

    def __init__(self, settings: SimulatorSettings) -> None:
        self._settings = settings
        self._random = random.Random(settings.seed)
        self._emit: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None
        self._accepted: set[str] = set()
        self._throttled: set[str] = set()
        self._log_fd: int | None = None
        self._read_to = 0  # how far the submit log has been read
        self._remembers = bool(settings.submit_log)
        self._pacers: dict[str, FairPacer] = {}
        self._timers: set[asyncio.TimerHandle] = set()

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._emit = receipts
        self._inbound = inbound
        if not self._settings.submit_log:
            return
        path = Path(self._settings.submit_log)
        for line in self._read_log(path):
            if line.result == SubmitOutcome.ACCEPTED and line.attemptId not in self._accepted:
                self._accepted.add(line.attemptId)
                self._schedule_receipts(line.attemptId, self._behaviour(line.channel, line.to))
        self._log_fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        if os.fstat(self._log_fd).st_size > self._read_to:  # a torn line: end it, so
            os.write(self._log_fd, b"\n")  # that the next one written stays whole

    def _read_log(self, path: Path) -> list[_LogLine]:
        """The whole lines of the log from where the last read stopped."""
        if not path.exists():
            return []
        with path.open("rb") as log:
            log.seek(self._read_to)
            data = log.read()
        whole = data.rfind(b"\n") + 1  # a line still being written is read next time
        self._read_to += whole
        decoder = msgspec.json.Decoder(_LogLine)
        lines = []
        for raw in data[:whole].splitlines():
            try:
                lines.append(decoder.decode(raw))
            except msgspec.DecodeError:
                continue  # a line torn by a crash mid-write was never acknowledged
        return lines

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        """Take the batch (and log it) at once, answer after the submit latency: like a
        carrier, it may have a message whose acknowledgement never reached the sender.
        The whole batch is answered at once, so `answered` is left to the list returned."""
        if self._settings.throughput:
            await self._pace(submissions)
        decided = [self._submit_one(submission) for submission in submissions]
        results = [result for result, _ in decided]
        self._log(submissions, results)
        low, high = self._latency(self._settings.submit_latency_ms)
        if high:
            await asyncio.sleep(self._random.uniform(low, high) / 1000)
        for submission, (result, behaviour) in zip(submissions, decided, strict=True):
            if result.outcome is SubmitOutcome.ACCEPTED:
                self._schedule_receipts(result.attempt_id, behaviour)
            if behaviour is Behaviour.DELIVER_THEN_STOP:
                self._reply(submission, "STOP")
        return results

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        if self._log_fd is not None:  # what other processes sharing the log accepted
            for line in self._read_log(Path(self._settings.submit_log)):
                if line.result == SubmitOutcome.ACCEPTED:
                    self._accepted.add(line.attemptId)
        return {
            attempt_id: True
            if attempt_id in self._accepted
            else (False if self._remembers else None)
            for attempt_id in attempt_ids
        }

    async def close(self) -> None:
        for timer in self._timers:
            timer.cancel()
        self._timers.clear()
        if self._log_fd is not None:
            os.close(self._log_fd)
            self._log_fd = None

    def _behaviour(self, channel: str, to: str) -> Behaviour:
        scripted = behaviour_for(channel, to)
        if scripted is not None:
            return scripted
        if self._random.random() >= self._settings.capable_probability:
            return Behaviour.REJECT
        if self._random.random() >= self._settings.delivered_probability:
            return Behaviour.UNDELIVER
        return Behaviour.DELIVER_AND_READ if channel in (RCS, WHATSAPP) else Behaviour.DELIVER

    def _submit_one(self, submission: Submission) -> tuple[SubmitResult, Behaviour]:
        attempt_id = submission.attempt_id
        behaviour = self._behaviour(submission.channel, submission.to_address)
        if behaviour is Behaviour.THROTTLE_ONCE:
            if attempt_id not in self._throttled:
                self._throttled.add(attempt_id)
                throttled = SubmitResult(
                    attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=THROTTLE_RETRY_MS
                )
                return throttled, behaviour
            behaviour = Behaviour.DELIVER
        if behaviour is Behaviour.REJECT:
            error = REJECTION_ERRORS[submission.channel]
            rejected = SubmitResult(
                attempt_id, SubmitOutcome.REJECTED, None, error.code, error.message
            )
            return rejected, behaviour
        self._accepted.add(attempt_id)
        # its receipts name our attempt id: no provider id to store (and to index)
        accepted = SubmitResult(attempt_id, SubmitOutcome.ACCEPTED)
        return accepted, behaviour

    def _log(self, submissions: Sequence[Submission], results: Sequence[SubmitResult]) -> None:
        """Append one line per submit and write it out before the submit is acknowledged."""
        if self._log_fd is None:
            return
        at = datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
        encoder = msgspec.json.Encoder()
        lines = b"".join(
            encoder.encode(
                _LogLine(
                    s.attempt_id,
                    s.message_id,
                    s.operation_id,
                    s.channel,
                    s.to_address,
                    at,
                    r.outcome,
                )
            )
            + b"\n"
            for s, r in zip(submissions, results, strict=True)
        )
        os.write(self._log_fd, lines)

    def _schedule_receipts(self, attempt_id: str, behaviour: Behaviour) -> None:
        if behaviour in (Behaviour.SILENT, Behaviour.REJECT):
            return
        if behaviour is Behaviour.UNDELIVER:
            receipts = [
                Receipt("UNDELIVERED", attempt_id, None, UNREACHABLE.code, UNREACHABLE.message)
            ]
        else:
            receipts = [Receipt("DELIVERED", attempt_id)]
            if behaviour is Behaviour.DELIVER_AND_READ:
                receipts.append(Receipt("READ", attempt_id))
        self._later(receipts)

    def _reply(self, submission: Submission, text: str) -> None:
        """The recipient writes back to the sender, after the receipt latency."""
        inbound = Inbound(
            self.name, submission.channel, submission.to_address, submission.from_address, text
        )

        def fire() -> None:
            if self._inbound is not None:
                self._inbound(inbound)

        self._after_receipt_latency(fire)

    def _later(self, receipts: list[Receipt]) -> None:
        """Report `receipts[0]` after the receipt latency, then the rest, each after the one
        before: timers of close deadlines are not fired in order by every event loop
        (uvloop fired READ before DELIVERED), so each receipt schedules the next."""

        def fire() -> None:
            if self._emit is not None:
                self._emit(receipts[0])
            if len(receipts) > 1:
                self._later(receipts[1:])

        self._after_receipt_latency(fire)

    def _after_receipt_latency(self, action: Callable[[], None]) -> None:
        """Run `action` after a receipt latency drawn from the settings (cancelled by
        `close`)."""
        low, high = self._latency(self._settings.receipt_latency_ms)

        def fire() -> None:
            self._timers.discard(timer)
            action()

        delay = self._random.uniform(low, high) / 1000
        timer = asyncio.get_running_loop().call_later(delay, fire)
        self._timers.add(timer)

    async def _pace(self, submissions: Sequence[Submission]) -> None:
        """Hold the batch until each sender's throughput cap, shared fairly between
        accounts and operations, lets its submits through."""
        turns = []
        for submission in submissions:
            pacer = self._pacers.get(submission.from_address)
            if pacer is None:
                pacer = self._pacers[submission.from_address] = FairPacer(self._settings.throughput)
            turns.append(pacer.turn(submission.account_sid, submission.operation_id))
        await asyncio.gather(*turns)

    @staticmethod
    def _latency(bounds: list[int]) -> tuple[int, int]:
        return (bounds[0], bounds[-1]) if bounds else (0, 0)
