"""A tiny blocking SMPP 3.4 client on a raw socket, written from the specification for
these tests only: it shares no code with the project's codec, so a peer that works with
it is known to work independently of the connector under test."""

from __future__ import annotations

import contextlib
import socket
import struct
from dataclasses import dataclass, field

BIND_TRANSCEIVER = 0x00000009
SUBMIT_SM = 0x00000004
DELIVER_SM = 0x00000005
ENQUIRE_LINK = 0x00000015
UNBIND = 0x00000006
RESP = 0x80000000


@dataclass
class Pdu:
    command_id: int
    status: int
    sequence: int
    body: bytes

    def cstrings(self, count: int) -> tuple[list[str], int]:
        """The first `count` C-octet strings of the body and the offset after them."""
        out, offset = [], 0
        for _ in range(count):
            end = self.body.index(b"\0", offset)
            out.append(self.body[offset:end].decode("latin-1"))
            offset = end + 1
        return out, offset


@dataclass
class DeliverSm:
    source: str
    destination: str
    esm_class: int
    short_message: bytes
    tlvs: dict[int, bytes] = field(default_factory=dict)

    @classmethod
    def parse(cls, pdu: Pdu) -> DeliverSm:
        (_service, _ton, _npi, source), offset = _fields(pdu, offset=0)
        ton_npi_dest, offset = pdu.body[offset : offset + 2], offset + 2
        assert len(ton_npi_dest) == 2
        end = pdu.body.index(b"\0", offset)
        destination, offset = pdu.body[offset:end].decode("latin-1"), end + 1
        esm_class = pdu.body[offset]
        offset += 3  # esm_class, protocol_id, priority_flag
        for _ in range(2):  # schedule_delivery_time, validity_period (empty)
            offset = pdu.body.index(b"\0", offset) + 1
        offset += 4  # registered_delivery, replace_if_present, data_coding, sm_default_msg_id
        length = pdu.body[offset]
        short_message = pdu.body[offset + 1 : offset + 1 + length]
        offset += 1 + length
        tlvs = {}
        while offset + 4 <= len(pdu.body):
            tag, size = struct.unpack_from(">HH", pdu.body, offset)
            tlvs[tag] = pdu.body[offset + 4 : offset + 4 + size]
            offset += 4 + size
        return cls(source, destination, esm_class, short_message, tlvs)


def _fields(pdu: Pdu, offset: int) -> tuple[tuple[str, int, int, str], int]:
    end = pdu.body.index(b"\0", offset)
    service = pdu.body[offset:end].decode("latin-1")
    ton, npi = pdu.body[end + 1], pdu.body[end + 2]
    start = end + 3
    end = pdu.body.index(b"\0", start)
    return (service, ton, npi, pdu.body[start:end].decode("latin-1")), end + 1


def _c(text: str) -> bytes:
    return text.encode("latin-1") + b"\0"


class RawSmppClient:
    def __init__(self, host: str, port: int, timeout: float = 30) -> None:
        self.sock = socket.create_connection((host, port), timeout=timeout)
        self.sequence = 0
        self.pending: list[Pdu] = []  # requests from the peer read while awaiting a resp

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.request(UNBIND, b"")
        self.sock.close()

    def send(self, command_id: int, body: bytes, status: int = 0, sequence: int = 0) -> int:
        if not sequence:
            self.sequence += 1
            sequence = self.sequence
        self.sock.sendall(struct.pack(">IIII", 16 + len(body), command_id, status, sequence) + body)
        return sequence

    def read(self) -> Pdu:
        header = self._exactly(16)
        length, command_id, status, sequence = struct.unpack(">IIII", header)
        return Pdu(command_id, status, sequence, self._exactly(length - 16))

    def request(self, command_id: int, body: bytes) -> Pdu:
        """Send a request, answer what the peer sends meanwhile, return the response."""
        sequence = self.send(command_id, body)
        while True:
            pdu = self.read()
            if pdu.command_id == command_id | RESP and pdu.sequence == sequence:
                return pdu
            self._answer(pdu)

    def bind_transceiver(self, system_id: str, password: str) -> Pdu:
        body = _c(system_id) + _c(password) + _c("") + bytes([0x34, 0, 0]) + _c("")
        return self.request(BIND_TRANSCEIVER, body)

    def submit_sm(
        self, source: str, destination: str, text: bytes, data_coding: int = 0,
        registered_delivery: int = 1,
    ) -> Pdu:  # fmt: skip
        body = (
            _c("") + bytes([1, 1]) + _c(source) + bytes([1, 1]) + _c(destination)
            + bytes([0, 0, 0]) + _c("") + _c("")
            + bytes([registered_delivery, 0, data_coding, 0, len(text)]) + text
        )  # fmt: skip
        return self.request(SUBMIT_SM, body)

    def next_deliver_sm(self) -> DeliverSm:
        """The next deliver_sm from the peer (acknowledged), answering anything else."""
        while True:
            pdu = self.pending.pop(0) if self.pending else self.read()
            if pdu.command_id == DELIVER_SM:
                self.send(DELIVER_SM | RESP, b"\0", sequence=pdu.sequence)
                return DeliverSm.parse(pdu)
            self._answer(pdu)

    def _answer(self, pdu: Pdu) -> None:
        if pdu.command_id == ENQUIRE_LINK:
            self.send(ENQUIRE_LINK | RESP, b"", sequence=pdu.sequence)
        elif pdu.command_id == DELIVER_SM:
            self.pending.append(pdu)

    def _exactly(self, size: int) -> bytes:
        data = b""
        while len(data) < size:
            chunk = self.sock.recv(size - len(data))
            if not chunk:
                raise ConnectionError("the peer closed the connection")
            data += chunk
        return data
