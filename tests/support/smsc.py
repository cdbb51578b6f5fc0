"""An SMSC for connector tests: the `smpp34` server (an independent Rust SMPP 3.4
implementation) behind a small loopback proxy that the test steers.

smpp34 binds, answers submit_sm (or holds it until the test decides), answers
enquire_link and unbind, and pushes deliver_sm (receipts, inbound messages) while
awaiting its deliver_sm_resp. What smpp34 has no call for, the proxy does, reading
only the 16-byte SMPP headers (never the project's codec): it cuts connections
(also right after the SMSC answered, dropping the answer), refuses connections,
counts each connection's outstanding submit_sm, and sends the ESME an enquire_link or
an unknown command itself. docs/smpp.md says why each part is where it is.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import socket
import struct
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import smpp34

__all__ = ["Smsc", "Submitted", "smsc_in_thread"]

HEADER = struct.Struct(">IIII")
SUBMIT_SM, SUBMIT_SM_RESP = 0x00000004, 0x80000004
ENQUIRE_LINK = 0x00000015
RESPONSE = 0x80000000
INJECTED_SEQUENCES = 0x7FFF0000  # the proxy's own requests: far above smpp34's counter

STATE_CODES = {"ENROUTE": 1, "DELIVRD": 2, "EXPIRED": 3, "DELETED": 4, "UNDELIV": 5,
               "ACCEPTD": 6, "UNKNOWN": 7, "REJECTD": 8}  # fmt: skip


@dataclass
class Submitted:
    """A submit_sm as smpp34 decoded it, and how the SMSC answered."""

    session_id: str
    source_addr: str
    source_addr_ton: int
    destination_addr: str
    data_coding: int
    esm_class: int
    registered_delivery: int
    short_message: bytes
    message_id: str | None = None
    status: int | None = None
    event: Any = field(default=None, repr=False)  # smpp34.SubmitSmEvent while held

    @property
    def udh(self) -> bytes:
        if not self.esm_class & 0x40:
            return b""
        return self.short_message[: 1 + self.short_message[0]]


class _Connection:
    """One ESME connection through the proxy."""

    def __init__(self, client: asyncio.StreamWriter, server: asyncio.StreamWriter) -> None:
        self.client = client
        self.server = server
        self.outstanding: set[int] = set()
        self.max_outstanding = 0
        self.tasks: list[asyncio.Task[None]] = []

    def cut(self) -> None:
        for writer in (self.client, self.server):
            writer.close()


async def _read_frame(reader: asyncio.StreamReader) -> tuple[bytes, int, int]:
    header = await reader.readexactly(HEADER.size)
    length, command_id, _, sequence = HEADER.unpack(header)
    return header + await reader.readexactly(length - HEADER.size), command_id, sequence


class Smsc:
    def __init__(self, system_id: str = "TESTSMSC") -> None:
        self._system_id = system_id
        self._server: Any = None
        self._proxy: asyncio.Server | None = None
        self._tasks: list[asyncio.Task[None]] = []
        self._ids = itertools.count(1)
        self._injected = itertools.count(INJECTED_SEQUENCES)
        self._awaiting: dict[int, asyncio.Future[tuple[int, int]]] = {}
        self.port = 0
        self.submits: list[Submitted] = []
        self.binds: list[Any] = []  # smpp34.Esme, in bind order
        self.sessions: dict[str, Any] = {}  # live sessions by id
        self.connections: list[_Connection] = []
        self.connection_times: list[float] = []  # every connection attempt, refused or not
        self.enquire_links = 0  # enquire_link requests from the ESME
        # the test's levers
        self.holding = False  # keep submits unanswered until release()
        self.answers: dict[str, list[int]] = {}  # destination -> statuses to answer, in turn
        self.refusing = False  # close new connections at once
        self.drop_on_response = 0  # swallow this many submit_sm_resp, cutting their connection
        self.auto_receipt: str | None = None  # send this receipt for every accepted submit
        # the test's own answerer: given every submit instead of the rules above (it
        # answers through `answer`, or leaves it held)
        self.on_submit: Callable[[Submitted], None] | None = None
        self.pushed: list[asyncio.Future[Any]] = []  # the automatic receipts sent

    # --- life --------------------------------------------------------------------------

    async def start(self) -> Smsc:
        with socket.socket() as probe:
            probe.bind(("127.0.0.1", 0))
            server_port = probe.getsockname()[1]
        self._server = smpp34.Server("127.0.0.1", server_port, system_id=self._system_id)
        await self._server.start()
        self._server_port = server_port
        self._tasks.append(asyncio.create_task(self._events()))
        self._proxy = await asyncio.start_server(self._accept, "127.0.0.1", 0)
        self.port = self._proxy.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        if self._proxy is not None:
            self._proxy.close()
        self.drop()
        for task in self._tasks:
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
        await self._server.stop()

    # --- smpp34 events -------------------------------------------------------------------

    async def _events(self) -> None:
        while True:
            event = await self._server.next()
            if isinstance(event, smpp34.Esme):
                self.binds.append(event)
                self.sessions[event.session_id] = event
            elif isinstance(event, smpp34.Unbound):
                self.sessions.pop(event.session_id, None)
            elif isinstance(event, smpp34.SubmitSmEvent):
                self._on_submit(event)

    def _on_submit(self, event: Any) -> None:
        submitted = Submitted(
            event.session_id,
            event.source_addr,
            event.source_addr_ton,
            event.destination_addr,
            event.data_coding,
            event.esm_class,
            event.registered_delivery,
            bytes(event.short_message),
            event=event,
        )
        self.submits.append(submitted)
        if self.on_submit is not None:
            self.on_submit(submitted)
        elif not self.holding:
            self.answer(submitted)

    def answer(
        self, submitted: Submitted, message_id: str | None = None, *, status: int | None = None
    ) -> None:
        """Answer a (held) submit with `status`, else the next scripted status for its
        destination, else accept it with `message_id` or a generated one."""
        if status is None:
            script = self.answers.get(submitted.destination_addr)
            status = script.pop(0) if script else 0
        if status:
            submitted.status = status
            submitted.event.reject(status)
        else:
            submitted.status = 0
            submitted.message_id = message_id or f"M{next(self._ids):06d}"
            submitted.event.accept(submitted.message_id)
            if self.auto_receipt:
                self.pushed.append(self.receipt(submitted.message_id, self.auto_receipt))
        submitted.event = None

    def release(self) -> None:
        """Stop holding, and answer every submit held so far."""
        self.holding = False
        for submitted in self.held:
            self.answer(submitted)

    @property
    def held(self) -> list[Submitted]:
        return [s for s in self.submits if s.event is not None]

    # --- pushing deliver_sm ---------------------------------------------------------------

    def _session(self) -> Any:
        live = [esme for esme in self.sessions.values() if esme.can_receive]
        if not live:
            raise AssertionError("no bound session can receive")
        return live[-1]

    def receipt(
        self,
        message_id: str,
        stat: str = "DELIVRD",
        *,
        form: str = "text",
        err: str = "000",
        network_error: bytes | None = None,
    ) -> asyncio.Future[Any]:
        """Send a delivery receipt; the future is done when the ESME acknowledged it.
        `form` is "text" (the Appendix B text), "tlv" (TLVs only) or "both"."""
        text = b""
        tlvs = []
        if form in ("text", "both"):
            text = (
                f"id:{message_id} sub:001 dlvrd:{int(stat == 'DELIVRD'):03d} "
                f"submit date:2601011200 done date:2601011201 stat:{stat} err:{err} text:hello"
            ).encode()
        if form in ("tlv", "both"):
            tlvs.append(smpp34.Tlv(smpp34.TLV_RECEIPTED_MESSAGE_ID, message_id.encode() + b"\0"))
            tlvs.append(smpp34.Tlv(smpp34.TLV_MESSAGE_STATE, bytes((STATE_CODES[stat],))))
        if network_error is not None:
            tlvs.append(smpp34.Tlv(smpp34.TLV_NETWORK_ERROR_CODE, network_error))
        return asyncio.ensure_future(
            self._session().deliver_sm(
                "14155550100", text, source_addr="14155550199", esm_class=0x04, tlvs=tlvs
            )
        )

    def inbound(
        self,
        text: bytes,
        *,
        source_addr: str = "14155550123",
        destination_addr: str = "14155550100",
        data_coding: int = 0,
        source_addr_ton: int = 1,
    ) -> asyncio.Future[Any]:
        """A message from a handset (not a receipt), acknowledged when the future is done."""
        return asyncio.ensure_future(
            self._session().deliver_sm(
                destination_addr,
                text,
                source_addr=source_addr,
                source_addr_ton=source_addr_ton,
                source_addr_npi=1,
                data_coding=data_coding,
            )
        )

    # --- the proxy ------------------------------------------------------------------------

    async def _accept(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connection_times.append(asyncio.get_running_loop().time())
        if self.refusing:
            writer.close()
            return
        server_reader, server_writer = await asyncio.open_connection("127.0.0.1", self._server_port)
        connection = _Connection(writer, server_writer)
        self.connections.append(connection)
        connection.tasks = [
            asyncio.create_task(self._upstream(connection, reader)),
            asyncio.create_task(self._downstream(connection, server_reader)),
        ]
        self._tasks.extend(connection.tasks)

    async def _upstream(self, connection: _Connection, reader: asyncio.StreamReader) -> None:
        """ESME -> SMSC: count submits and enquire_links; keep answers to our own requests."""
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            while True:
                frame, command_id, sequence = await _read_frame(reader)
                if command_id & RESPONSE and sequence in self._awaiting:
                    status = HEADER.unpack_from(frame)[2]
                    self._awaiting.pop(sequence).set_result((command_id, status))
                    continue
                if command_id == SUBMIT_SM:
                    connection.outstanding.add(sequence)
                    connection.max_outstanding = max(
                        connection.max_outstanding, len(connection.outstanding)
                    )
                elif command_id == ENQUIRE_LINK:
                    self.enquire_links += 1
                connection.server.write(frame)
        connection.cut()

    async def _downstream(self, connection: _Connection, reader: asyncio.StreamReader) -> None:
        """SMSC -> ESME: forward, unless the test asked to lose an answer."""
        with contextlib.suppress(asyncio.IncompleteReadError, OSError):
            while True:
                frame, command_id, sequence = await _read_frame(reader)
                if command_id == SUBMIT_SM_RESP:
                    connection.outstanding.discard(sequence)
                    if self.drop_on_response:
                        self.drop_on_response -= 1
                        break
                connection.client.write(frame)
        connection.cut()

    def drop(self) -> None:
        """Cut every connection, as a network failure would."""
        for connection in self.connections:
            connection.cut()

    async def request(self, command_id: int) -> tuple[int, int]:
        """Send the ESME a request of our own (on the newest connection) and return the
        (command_id, command_status) of its answer."""
        sequence = next(self._injected)
        answer: asyncio.Future[tuple[int, int]] = asyncio.get_running_loop().create_future()
        self._awaiting[sequence] = answer
        self.connections[-1].client.write(HEADER.pack(HEADER.size, command_id, 0, sequence))
        return await asyncio.wait_for(answer, 5)

    @property
    def max_outstanding(self) -> int:
        return max((c.max_outstanding for c in self.connections), default=0)

    async def wait_for(self, check: Callable[[], Any], within: float = 5) -> Any:
        """Poll `check` until it is truthy; fail after `within` seconds."""
        loop = asyncio.get_running_loop()
        deadline = loop.time() + within
        while not (value := check()):
            if loop.time() > deadline:
                raise AssertionError(f"condition not met within {within}s")
            await asyncio.sleep(0.005)
        return value


@contextlib.contextmanager
def smsc_in_thread(smsc: Smsc) -> Iterator[asyncio.AbstractEventLoop]:
    """`smsc` started on an event loop of its own thread, for a synchronous test that
    blocks (real processes, HTTP clients); yields that loop. Its lists (`submits`,
    `binds`) may be read from the test's thread; anything else runs on the loop."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="smsc", daemon=True)
    thread.start()
    try:
        asyncio.run_coroutine_threadsafe(smsc.start(), loop).result(30)
        yield loop
    finally:
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(smsc.stop(), loop).result(30)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(timeout=10)
        loop.close()
