"""SMPP 3.4 PDUs: the 16-byte header, the bodies this connector speaks, and TLVs.

A PDU is `command_length command_id command_status sequence_number` (four big-endian
uint32) followed by a body. Only the bodies the connector needs are modelled: binds,
submit_sm / deliver_sm (the same layout), and the C-string message_id of the
responses; every other PDU keeps its body as bytes.
"""

from __future__ import annotations

import asyncio
import struct
from dataclasses import dataclass, field
from enum import IntEnum

__all__ = [
    "HEADER",
    "MAX_PDU_LENGTH",
    "Bind",
    "Command",
    "Pdu",
    "PduError",
    "ShortMessage",
    "Tag",
    "decode_bind",
    "decode_pdu",
    "decode_short_message",
    "encode_bind",
    "encode_pdu",
    "encode_short_message",
    "read_message_id",
    "read_pdu",
]

HEADER = struct.Struct(">IIII")
MAX_PDU_LENGTH = 64 * 1024  # far above any real PDU: a longer length is a broken peer
INTERFACE_VERSION = 0x34
RESPONSE = 0x80000000


class Command(IntEnum):
    GENERIC_NACK = 0x80000000
    BIND_RECEIVER = 0x00000001
    BIND_RECEIVER_RESP = 0x80000001
    BIND_TRANSMITTER = 0x00000002
    BIND_TRANSMITTER_RESP = 0x80000002
    SUBMIT_SM = 0x00000004
    SUBMIT_SM_RESP = 0x80000004
    DELIVER_SM = 0x00000005
    DELIVER_SM_RESP = 0x80000005
    UNBIND = 0x00000006
    UNBIND_RESP = 0x80000006
    BIND_TRANSCEIVER = 0x00000009
    BIND_TRANSCEIVER_RESP = 0x80000009
    ENQUIRE_LINK = 0x00000015
    ENQUIRE_LINK_RESP = 0x80000015


class Tag(IntEnum):
    """The optional parameter (TLV) tags this connector reads or writes."""

    RECEIPTED_MESSAGE_ID = 0x001E
    NETWORK_ERROR_CODE = 0x0423
    MESSAGE_PAYLOAD = 0x0424
    MESSAGE_STATE = 0x0427


class PduError(Exception):
    """A PDU that cannot be decoded; `status` is the generic_nack status to answer."""

    def __init__(self, message: str, status: int) -> None:
        super().__init__(message)
        self.status = status


ESME_RINVCMDLEN = 0x00000002


@dataclass(frozen=True, slots=True)
class Pdu:
    command_id: int
    status: int
    sequence: int
    body: bytes = b""

    @property
    def is_response(self) -> bool:
        return bool(self.command_id & RESPONSE)


def encode_pdu(pdu: Pdu) -> bytes:
    return HEADER.pack(HEADER.size + len(pdu.body), pdu.command_id, pdu.status, pdu.sequence) + (
        pdu.body
    )


def decode_pdu(data: bytes) -> Pdu:
    """One whole PDU (header and body) from `data`."""
    if len(data) < HEADER.size:
        raise PduError("PDU shorter than its header", ESME_RINVCMDLEN)
    length, command_id, status, sequence = HEADER.unpack_from(data)
    if length != len(data):
        raise PduError(f"command_length {length} but {len(data)} bytes", ESME_RINVCMDLEN)
    return Pdu(command_id, status, sequence, data[HEADER.size :])


async def read_pdu(reader: asyncio.StreamReader) -> Pdu:
    """The next PDU on the stream; IncompleteReadError at its end."""
    header = await reader.readexactly(HEADER.size)
    length = HEADER.unpack(header)[0]
    if not HEADER.size <= length <= MAX_PDU_LENGTH:
        raise PduError(f"command_length {length} out of bounds", ESME_RINVCMDLEN)
    return decode_pdu(header + await reader.readexactly(length - HEADER.size))


# --- C-octet strings and TLVs ---------------------------------------------------------


def _cstring(value: str) -> bytes:
    return value.encode("latin-1") + b"\0"


class _Cursor:
    """Reads a body field by field; running off its end is a malformed PDU."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def cstring(self) -> str:
        end = self.data.find(b"\0", self.pos)
        if end < 0:
            raise PduError("unterminated C-octet string", 0x00000001)
        value = self.data[self.pos : end].decode("latin-1")
        self.pos = end + 1
        return value

    def octet(self) -> int:
        return self.take(1)[0]

    def take(self, count: int) -> bytes:
        if self.pos + count > len(self.data):
            raise PduError("body shorter than its fields", ESME_RINVCMDLEN)
        value = self.data[self.pos : self.pos + count]
        self.pos += count
        return value

    def tlvs(self) -> dict[int, bytes]:
        found: dict[int, bytes] = {}
        while self.pos < len(self.data):
            tag, length = struct.unpack(">HH", self.take(4))
            found[tag] = self.take(length)
        return found


def _encode_tlvs(tlvs: dict[int, bytes]) -> bytes:
    return b"".join(struct.pack(">HH", tag, len(value)) + value for tag, value in tlvs.items())


# --- bodies -------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Bind:
    system_id: str
    password: str
    system_type: str = ""
    interface_version: int = INTERFACE_VERSION
    addr_ton: int = 0
    addr_npi: int = 0
    address_range: str = ""


def encode_bind(bind: Bind) -> bytes:
    return (
        _cstring(bind.system_id)
        + _cstring(bind.password)
        + _cstring(bind.system_type)
        + bytes((bind.interface_version, bind.addr_ton, bind.addr_npi))
        + _cstring(bind.address_range)
    )


def decode_bind(body: bytes) -> Bind:
    cursor = _Cursor(body)
    system_id, password, system_type = cursor.cstring(), cursor.cstring(), cursor.cstring()
    version, ton, npi = cursor.octet(), cursor.octet(), cursor.octet()
    return Bind(system_id, password, system_type, version, ton, npi, cursor.cstring())


def read_message_id(body: bytes) -> str:
    """The message_id (or system_id) of a response; an error response may have no body."""
    if not body:
        return ""
    return _Cursor(body).cstring()


@dataclass(frozen=True, slots=True)
class ShortMessage:
    """The body of submit_sm and deliver_sm (SMPP 3.4 §4.4.1 and §4.6.1)."""

    source_addr: str
    destination_addr: str
    short_message: bytes = b""
    service_type: str = ""
    source_addr_ton: int = 0
    source_addr_npi: int = 0
    dest_addr_ton: int = 0
    dest_addr_npi: int = 0
    esm_class: int = 0
    protocol_id: int = 0
    priority_flag: int = 0
    schedule_delivery_time: str = ""
    validity_period: str = ""
    registered_delivery: int = 0
    replace_if_present_flag: int = 0
    data_coding: int = 0
    sm_default_msg_id: int = 0
    tlvs: dict[int, bytes] = field(default_factory=dict)


def encode_short_message(sm: ShortMessage) -> bytes:
    if len(sm.short_message) > 254:
        raise ValueError("short_message is at most 254 octets; use message_payload")
    return b"".join(
        (
            _cstring(sm.service_type),
            bytes((sm.source_addr_ton, sm.source_addr_npi)),
            _cstring(sm.source_addr),
            bytes((sm.dest_addr_ton, sm.dest_addr_npi)),
            _cstring(sm.destination_addr),
            bytes((sm.esm_class, sm.protocol_id, sm.priority_flag)),
            _cstring(sm.schedule_delivery_time),
            _cstring(sm.validity_period),
            bytes(
                (
                    sm.registered_delivery,
                    sm.replace_if_present_flag,
                    sm.data_coding,
                    sm.sm_default_msg_id,
                    len(sm.short_message),
                )
            ),
            sm.short_message,
            _encode_tlvs(sm.tlvs),
        )
    )


def decode_short_message(body: bytes) -> ShortMessage:
    c = _Cursor(body)
    service_type = c.cstring()
    source_ton, source_npi, source = c.octet(), c.octet(), c.cstring()
    dest_ton, dest_npi, dest = c.octet(), c.octet(), c.cstring()
    esm_class, protocol_id, priority = c.octet(), c.octet(), c.octet()
    schedule, validity = c.cstring(), c.cstring()
    registered, replace, coding, default_id, length = (c.octet() for _ in range(5))
    text = c.take(length)
    return ShortMessage(
        source_addr=source,
        destination_addr=dest,
        short_message=text,
        service_type=service_type,
        source_addr_ton=source_ton,
        source_addr_npi=source_npi,
        dest_addr_ton=dest_ton,
        dest_addr_npi=dest_npi,
        esm_class=esm_class,
        protocol_id=protocol_id,
        priority_flag=priority,
        schedule_delivery_time=schedule,
        validity_period=validity,
        registered_delivery=registered,
        replace_if_present_flag=replace,
        data_coding=coding,
        sm_default_msg_id=default_id,
        tlvs=c.tlvs(),
    )
