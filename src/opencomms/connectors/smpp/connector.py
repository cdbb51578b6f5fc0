"""The `smpp` connector: SMS through an SMSC over SMPP 3.4 (docs/smpp.md).

`submit()` sends every submission's parts through the binds that have window room,
at most `throughput` submit_sm a second over them all, shared fairly between accounts
and operations (connectors/pacing.py), reports each answer as it comes and returns once
each has one. What it promises the engine:

- a submission whose submit_sm never reached a socket is sent on another bind, or
  comes back THROTTLED when no bind is up within `response_timeout`;
- one whose submit_sm was written but never answered is left out of the results:
  it may have reached the SMSC, so it is never sent again, and `was_submitted`
  answers None for it; if its answer comes after `response_timeout` after all, its id
  is reported as a SENT receipt (one-part texts), so its delivery receipt still matches;
- a long text is sent part after part; once a part is accepted the rest are sent
  even through throttling, since sending the whole text again would duplicate it.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import re
from collections.abc import Sequence
from enum import Enum
from functools import partial

from opencomms.connectors.base import (
    AnswerHandler,
    Inbound,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    Submission,
    SubmitOutcome,
    SubmitResult,
    submit_each,
)
from opencomms.connectors.pacing import FairPacer
from opencomms.connectors.smpp.config import SmppConfig
from opencomms.connectors.smpp.errors import (
    ESME_ROK,
    THROTTLING_STATUSES,
    submit_error,
)
from opencomms.connectors.smpp.gsm import EncodedPart, decode_text, encode_parts, strip_udh
from opencomms.connectors.smpp.pdu import (
    Bind,
    Command,
    Pdu,
    ShortMessage,
    Tag,
    encode_short_message,
    read_message_id,
)
from opencomms.connectors.smpp.receipt_text import is_receipt, parse_receipt
from opencomms.connectors.smpp.session import Lost, NotSent, Session, Timing
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.errors import UNKNOWN

__all__ = ["SmppConnector"]

TON_INTERNATIONAL = 1
TON_ALPHANUMERIC = 5
_BIND_COMMANDS = {
    "transceiver": Command.BIND_TRANSCEIVER,
    "transmitter": Command.BIND_TRANSMITTER,
    "receiver": Command.BIND_RECEIVER,
}
_LETTERS = re.compile(r"[A-Za-z]")


class _Fate(Enum):
    """How a part's submit_sm ended, other than with a message id."""

    LOST = "lost"  # written, never answered
    NO_BIND = "no bind"  # no bind with room came up in time


class SmppConnector:
    channels: frozenset[str] = frozenset({"SMS"})
    # seconds a bind sends nothing after ESME_RTHROTTLED / ESME_RMSGQFUL; also the
    # retry_after_ms of a THROTTLED result
    throttle_pause: float = 1.0

    def __init__(self, name: str, config: SmppConfig, *, password: str) -> None:
        self.name = name
        self._config = config
        self._password = password
        self._timing = Timing(
            enquire_link=_seconds(config.enquire_link_interval, "enquire_link_interval"),
            response_timeout=_seconds(config.response_timeout, "response_timeout"),
            reconnect_min=_seconds(config.reconnect_min, "reconnect_min"),
            reconnect_max=_seconds(config.reconnect_max, "reconnect_max"),
        )
        self._pacer = FairPacer(config.throughput)
        self._sessions: list[Session] = []
        self._tasks: list[asyncio.Task[None]] = []
        self._turn = itertools.count()
        self._references = itertools.count(random.randrange(256))
        self._wake = asyncio.Event()
        # attempt id -> False: seen, never written; None: written, unanswered; True: taken
        self._written: dict[str, bool | None] = {}
        self._receipts: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None

    # --- the Connector interface ------------------------------------------------------

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts
        self._inbound = inbound
        self._sessions = [
            self._session(f"{self.name}#{index}", command)
            for index, command in enumerate(self._bind_commands())
        ]
        self._tasks = [asyncio.create_task(session.run()) for session in self._sessions]

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        return await submit_each(submissions, self._submit_one, answered)

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """True: the SMSC took it; None: written, unanswered, or before a restart (this
        process cannot tell); False: this process had it and never wrote it."""
        return {attempt_id: self._written.get(attempt_id) for attempt_id in attempt_ids}

    async def close(self) -> None:
        await asyncio.gather(*(session.close() for session in self._sessions))
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    # --- binds ----------------------------------------------------------------------------

    def _bind_commands(self) -> list[Command]:
        """`binds` binds of the configured mode; a transmitter gets as many receivers
        alongside, since receipts come only to a receiving bind."""
        mode = _BIND_COMMANDS[self._config.bind_mode]
        commands = [mode] * self._config.binds
        if mode is Command.BIND_TRANSMITTER:
            commands += [Command.BIND_RECEIVER] * self._config.binds
        return commands

    def _session(self, label: str, command: Command) -> Session:
        config = self._config
        bind = Bind(config.system_id, self._password, config.system_type)
        return Session(
            label,
            config.host,
            config.port,
            bind,
            command,
            config.window,
            self._timing,
            self._on_deliver,
            self._changed,
        )

    def bind_states(self) -> tuple[int, int]:
        """Its sessions bound now, and all of them (for /metrics)."""
        return sum(1 for session in self._sessions if session.bound), len(self._sessions)

    def _changed(self) -> None:
        """A bind came up or went down, freed a slot or ended a pause: wake the waiters."""
        self._wake.set()
        self._wake = asyncio.Event()

    async def _acquire(self) -> Session | None:
        """A bound session with window room (its slot reserved), or None when no bind
        has been up for `response_timeout`."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._timing.response_timeout
        while True:
            wake, now = self._wake, loop.time()
            start = next(self._turn)
            count = len(self._sessions)
            for offset in range(count):
                session = self._sessions[(start + offset) % count]
                if session.can_send(now):
                    session.reserve()
                    return session
            if any(s.bound and s.transmits for s in self._sessions):
                deadline = now + self._timing.response_timeout
            elif now >= deadline:
                return None
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.wait(), deadline - now)

    # --- submitting -----------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult | None:
        attempt_id = submission.attempt_id
        text = submission.content.get("text")
        if submission.channel != "SMS" or not isinstance(text, str):
            return _rejected(attempt_id, UNKNOWN.code, "the smpp connector sends SMS text only")
        if not any(s.transmits for s in self._sessions):
            return _rejected(attempt_id, UNKNOWN.code, "the smpp connector binds as receiver")
        self._written.setdefault(attempt_id, False)
        parts = encode_parts(text, next(self._references) % 256, self._config.default_data_coding)
        ids: list[str] = []
        for part in parts:
            answer = await self._send_part(submission, part, first=not ids, single=len(parts) == 1)
            if answer is _Fate.LOST:
                return None
            if isinstance(answer, str):
                ids.append(answer)
                continue
            return self._refused(attempt_id, answer, ids)
        self._written[attempt_id] = True
        return SubmitResult(
            attempt_id,
            SubmitOutcome.ACCEPTED,
            provider_message_id=ids[0],
            part_ids=tuple(ids) if len(ids) > 1 else (),
        )

    async def _send_part(
        self, submission: Submission, part: EncodedPart, *, first: bool, single: bool
    ) -> str | int | _Fate:
        """The part's message id, a refusing command_status, or its fate. A throttled
        first part is a refusal; a later one is sent again once the bind's pause ends."""
        body = encode_short_message(self._short_message(submission, part))
        while True:
            await self._pacer.turn(submission.account_sid, submission.operation_id)
            session = await self._acquire()
            if session is None:
                return _Fate.NO_BIND if first else _Fate.LOST
            late = partial(self._late_answer, submission.attempt_id) if single else None
            try:
                self._written[submission.attempt_id] = None
                response = await session.submit(body, late)
            except NotSent:
                if first:
                    self._written[submission.attempt_id] = False
                continue
            except Lost:
                return _Fate.LOST
            finally:
                session.release()
            if response.status == ESME_ROK and response.command_id == Command.SUBMIT_SM_RESP:
                return read_message_id(response.body)
            if response.status in THROTTLING_STATUSES:
                session.pause(self.throttle_pause)
                if not first:
                    continue
            return response.status or UNKNOWN.code

    def _late_answer(self, attempt_id: str, response: Pdu) -> None:
        """The answer to a submit_sm given up as in doubt came after all. Taken: report
        its id as a SENT receipt, so the attempt's receipts can be matched. Refused: it
        never reached the handset, so the engine may send it again."""
        if response.status == ESME_ROK and response.command_id == Command.SUBMIT_SM_RESP:
            self._written[attempt_id] = True
            if self._receipts is not None:
                self._receipts(Receipt("SENT", attempt_id, read_message_id(response.body)))
        else:
            self._written[attempt_id] = False

    def _refused(self, attempt_id: str, answer: int | _Fate, ids: list[str]) -> SubmitResult:
        retry_ms = round(self.throttle_pause * 1000)
        if answer is _Fate.NO_BIND:
            self._written[attempt_id] = False
            return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=retry_ms)
        assert isinstance(answer, int)
        if answer in THROTTLING_STATUSES:
            self._written[attempt_id] = False
            return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=retry_ms)
        self._written[attempt_id] = bool(ids)
        code, message = submit_error(answer)
        if ids:
            message = f"{message} (part {len(ids) + 1}; {len(ids)} part(s) already sent)"
        return _rejected(attempt_id, code, message)

    def _short_message(self, submission: Submission, part: EncodedPart) -> ShortMessage:
        config = self._config
        source_ton, source_npi = config.source_ton, config.source_npi
        if _LETTERS.search(submission.from_address):
            source_ton, source_npi = TON_ALPHANUMERIC, 0
        return ShortMessage(
            source_addr=_plain(submission.from_address),
            destination_addr=_plain(submission.to_address),
            short_message=part.short_message,
            source_addr_ton=source_ton,
            source_addr_npi=source_npi,
            dest_addr_ton=config.dest_ton,
            dest_addr_npi=config.dest_npi,
            esm_class=part.esm_class,
            registered_delivery=1,
            data_coding=part.data_coding,
        )

    # --- receiving --------------------------------------------------------------------

    async def _on_deliver(self, message: ShortMessage) -> None:
        """Report a receipt or an inbound message; return once it is stored."""
        if is_receipt(message):
            receipt = parse_receipt(message)
            if receipt is not None and self._receipts is not None:
                await self._receipts(receipt)
            return
        if self._inbound is not None:
            await self._inbound(self._inbound_message(message))

    def _inbound_message(self, message: ShortMessage) -> Inbound:
        data = message.short_message or message.tlvs.get(Tag.MESSAGE_PAYLOAD, b"")
        text = decode_text(strip_udh(data, message.esm_class), message.data_coding)
        return Inbound(
            connector=self.name,
            channel="SMS",
            from_address=_e164(message.source_addr, message.source_addr_ton),
            to_address=_e164(message.destination_addr, message.dest_addr_ton),
            text=text,
        )


def _rejected(attempt_id: str, code: int, message: str) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.REJECTED, error_code=code, error_message=message)


def _plain(address: str) -> str:
    """An address as SMPP writes it: E.164 without its '+' (the TON says international)."""
    return address.removeprefix("+")


def _e164(address: str, ton: int) -> str:
    if ton == TON_INTERNATIONAL and address and not address.startswith("+"):
        return "+" + address
    return address


def _seconds(duration: str, field: str) -> float:
    ms = parse_duration_ms(duration)
    if ms is None:
        raise ValueError(f"smpp: {field} is not a duration: {duration!r}")
    return ms / 1000
