"""One SMPP bind: connect, bind, keep it alive, correlate responses, and come back.

A session owns one TCP connection at a time. `run()` connects and binds, then reads
until the link is lost (or the SMSC unbinds), and reconnects after an exponential
backoff. While bound it sends enquire_link every `enquire_link` seconds and answers
the SMSC's; it answers an unknown request with generic_nack.

Sending is split in two so the connector can keep its promise of never resending
what may have reached the SMSC: `submit()` raises `NotSent` when the PDU was never
handed to the socket (safe to send elsewhere), and `Lost` when it was written but no
response came (connection lost, or `response_timeout`): that one must not be resent.

A received deliver_sm is handed to `deliver`, and its deliver_sm_resp written only
once `deliver` returns (the receipt is stored by then), on the same connection: if
the link drops in between, the SMSC delivers it again.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from opencomms.connectors.smpp.errors import ESME_RINVCMDID, status_name
from opencomms.connectors.smpp.pdu import (
    Bind,
    Command,
    Pdu,
    PduError,
    ShortMessage,
    decode_short_message,
    encode_bind,
    encode_pdu,
    read_pdu,
)

__all__ = ["BindRefused", "Lost", "NotSent", "Session", "Timing"]

log = logging.getLogger(__name__)

ESME_RX_T_APPN = 0x64  # "try again later": the receipt could not be stored
ESME_RX_P_APPN = 0x65  # a deliver_sm we cannot even parse: do not send it again
UNBIND_WAIT = 1.0  # seconds to wait for unbind_resp when closing
MAX_LATE = 10_000  # requests per connection still listening for a late response
_MAX_SEQUENCE = 0x7FFFFFFF

Deliver = Callable[[ShortMessage], Awaitable[None]]


class NotSent(Exception):
    """The PDU never reached the socket: send it on another bind."""


class Lost(Exception):
    """The PDU was written but its response never came: it may have reached the SMSC."""


class BindRefused(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Timing:
    """Seconds, from the operator's durations."""

    enquire_link: float
    response_timeout: float
    reconnect_min: float
    reconnect_max: float


class _Link:
    """One TCP connection and the requests awaiting a response on it."""

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader = reader
        self.writer = writer
        self.pending: dict[int, asyncio.Future[Pdu]] = {}
        # requests given up after response_timeout whose answer may still come
        self.late: dict[int, Callable[[Pdu], None]] = {}
        self.open = True

    def write(self, pdu: Pdu) -> None:
        self.writer.write(encode_pdu(pdu))

    def close(self) -> None:
        """Forget the connection; every request awaiting a response is lost."""
        self.open = False
        self.writer.close()
        for future in self.pending.values():
            if not future.done():
                future.set_exception(Lost("connection lost"))
        self.pending.clear()
        self.late.clear()


class Session:
    def __init__(
        self,
        label: str,
        host: str,
        port: int,
        bind: Bind,
        bind_command: Command,
        window: int,
        timing: Timing,
        deliver: Deliver,
        changed: Callable[[], None],
    ) -> None:
        self.label = label
        self._address = (host, port)
        self._bind = bind
        self._bind_command = bind_command
        self.window = window
        self._timing = timing
        self._deliver = deliver
        self._changed = changed
        self.transmits = bind_command in (Command.BIND_TRANSCEIVER, Command.BIND_TRANSMITTER)
        self.outstanding = 0  # window slots reserved by the connector
        self.paused_until = 0.0
        self._link: _Link | None = None
        self._sequence = 0
        self._closing = False
        self._tasks: set[asyncio.Task[None]] = set()

    # --- what the connector asks ------------------------------------------------------

    @property
    def bound(self) -> bool:
        return self._link is not None and self._link.open

    def can_send(self, now: float) -> bool:
        return (
            self.transmits
            and self.bound
            and self.outstanding < self.window
            and now >= self.paused_until
        )

    def reserve(self) -> None:
        self.outstanding += 1

    def release(self) -> None:
        self.outstanding -= 1
        self._changed()

    def pause(self, seconds: float) -> None:
        """Send nothing for a while (the SMSC said it is throttling us)."""
        loop = asyncio.get_running_loop()
        self.paused_until = max(self.paused_until, loop.time() + seconds)
        loop.call_later(seconds, self._changed)

    async def submit(self, body: bytes, late: Callable[[Pdu], None] | None = None) -> Pdu:
        """Write a submit_sm and return its response (or generic_nack). `late` gets the
        response that comes after `response_timeout` (on the same connection)."""
        return await self.request(Command.SUBMIT_SM, body, late)

    async def request(
        self, command: Command, body: bytes = b"", late: Callable[[Pdu], None] | None = None
    ) -> Pdu:
        link = self._link
        if link is None or not link.open:
            raise NotSent("not bound")
        sequence = self._next_sequence()
        future: asyncio.Future[Pdu] = asyncio.get_running_loop().create_future()
        link.pending[sequence] = future
        try:
            link.write(Pdu(command, 0, sequence, body))
        except (OSError, RuntimeError) as error:
            link.pending.pop(sequence, None)
            raise NotSent(str(error)) from error
        try:
            return await asyncio.wait_for(future, self._timing.response_timeout)
        except TimeoutError as error:
            if late is not None and link.open and len(link.late) < MAX_LATE:
                link.late[sequence] = late
            raise Lost(f"no response within {self._timing.response_timeout}s") from error
        finally:
            link.pending.pop(sequence, None)

    # --- the bind's life ----------------------------------------------------------------

    async def run(self) -> None:
        """Connect, bind and serve, again and again, until `close()`."""
        delay = self._timing.reconnect_min
        while not self._closing:
            try:
                link = await self._connect()
            except (OSError, TimeoutError, BindRefused, PduError, asyncio.IncompleteReadError):
                log.warning("smpp %s: bind failed, next try in %.3gs", self.label, delay)
                await asyncio.sleep(delay)
                delay = min(delay * 2, self._timing.reconnect_max)
                continue
            if self._closing:  # closed while binding: on 3.11 wait_for may eat the cancel
                link.close()
                return
            delay = self._timing.reconnect_min
            await self._serve(link)

    async def close(self) -> None:
        """Unbind (briefly waiting for the answer) and stop reconnecting."""
        self._closing = True
        link = self._link
        if link is not None and link.open:
            with contextlib.suppress(NotSent, Lost, OSError):
                await asyncio.wait_for(self.request(Command.UNBIND), UNBIND_WAIT)
            link.close()
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)

    async def _connect(self) -> _Link:
        timeout = self._timing.response_timeout
        reader, writer = await asyncio.wait_for(asyncio.open_connection(*self._address), timeout)
        link = _Link(reader, writer)
        try:
            link.write(Pdu(self._bind_command, 0, self._next_sequence(), encode_bind(self._bind)))
            response = await asyncio.wait_for(read_pdu(reader), timeout)
            if response.command_id != self._bind_command | 0x80000000 or response.status:
                raise BindRefused(
                    f"{Command(self._bind_command).name}: {status_name(response.status)}"
                )
        except BaseException:
            link.close()
            raise
        log.info("smpp %s: bound to %s:%s", self.label, *self._address)
        return link

    async def _serve(self, link: _Link) -> None:
        self._link = link
        self._changed()
        keepalive = self._spawn(self._keep_alive(link))
        try:
            await self._read(link)
        finally:
            keepalive.cancel()
            link.close()
            self._changed()
            if not self._closing:
                log.warning("smpp %s: connection lost", self.label)

    async def _read(self, link: _Link) -> None:
        while link.open:
            try:
                pdu = await read_pdu(link.reader)
            except (asyncio.IncompleteReadError, OSError):
                return
            except PduError as error:  # the stream is out of step: say so and start anew
                link.write(Pdu(Command.GENERIC_NACK, error.status, 0))
                return
            if not self._dispatch(link, pdu):
                return

    def _dispatch(self, link: _Link, pdu: Pdu) -> bool:
        """Act on one PDU; False once the SMSC has unbound."""
        if pdu.is_response:
            future = link.pending.get(pdu.sequence)
            if future is not None and not future.done():
                future.set_result(pdu)
            elif (late := link.late.pop(pdu.sequence, None)) is not None:
                late(pdu)
        elif pdu.command_id == Command.ENQUIRE_LINK:
            link.write(Pdu(Command.ENQUIRE_LINK_RESP, 0, pdu.sequence))
        elif pdu.command_id == Command.UNBIND:
            link.write(Pdu(Command.UNBIND_RESP, 0, pdu.sequence))
            return False
        elif pdu.command_id == Command.DELIVER_SM:
            self._spawn(self._acknowledge(link, pdu))
        else:
            link.write(Pdu(Command.GENERIC_NACK, ESME_RINVCMDID, pdu.sequence))
        return True

    async def _acknowledge(self, link: _Link, pdu: Pdu) -> None:
        """Hand the deliver_sm over; answer once it is stored (never before)."""
        try:
            message = decode_short_message(pdu.body)
        except PduError:
            status = ESME_RX_P_APPN
        else:
            try:
                await self._deliver(message)
                status = 0
            except Exception:
                log.exception("smpp %s: deliver_sm not stored; the SMSC will retry", self.label)
                status = ESME_RX_T_APPN
        if link.open:
            link.write(Pdu(Command.DELIVER_SM_RESP, status, pdu.sequence, b"\0"))

    async def _keep_alive(self, link: _Link) -> None:
        """enquire_link every interval; a link that does not answer is dropped."""
        while link.open:
            await asyncio.sleep(self._timing.enquire_link)
            try:
                await self.request(Command.ENQUIRE_LINK)
            except (Lost, NotSent):
                log.warning("smpp %s: enquire_link unanswered", self.label)
                link.close()
                return

    def _spawn(self, coroutine: Awaitable[None]) -> asyncio.Task[None]:
        task = asyncio.ensure_future(coroutine)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return task

    def _next_sequence(self) -> int:
        self._sequence = self._sequence % _MAX_SEQUENCE + 1
        return self._sequence
