"""Pure units: the PDU codec, GSM 03.38 text, receipt parsing, the status table."""

from __future__ import annotations

import asyncio
import struct

import pytest

from opencomms.connectors.base import Receipt
from opencomms.connectors.pacing import TokenBucket
from opencomms.connectors.smpp.errors import STATUS_NAMES, submit_error
from opencomms.connectors.smpp.gsm import decode_text, encode_parts, gsm7_decode, gsm7_encode
from opencomms.connectors.smpp.pdu import (
    Bind,
    Command,
    Pdu,
    PduError,
    ShortMessage,
    Tag,
    decode_bind,
    decode_pdu,
    decode_short_message,
    encode_bind,
    encode_pdu,
    encode_short_message,
    read_message_id,
    read_pdu,
)
from opencomms.connectors.smpp.receipt_text import is_receipt, parse_receipt, text_fields
from opencomms.domain.segments import GSM7_BASIC, GSM7_EXTENSION


def test_pdu_header_round_trip() -> None:
    pdu = Pdu(Command.SUBMIT_SM_RESP, 0x58, 7, b"abc\0")
    data = encode_pdu(pdu)
    assert data[:16] == struct.pack(">IIII", 20, 0x80000004, 0x58, 7)
    assert decode_pdu(data) == pdu
    assert pdu.is_response


def test_enquire_link_bytes() -> None:
    assert encode_pdu(Pdu(Command.ENQUIRE_LINK, 0, 1)).hex() == ("00000010000000150000000000000001")


def test_bind_body_layout_and_round_trip() -> None:
    bind = Bind("esme", "secret", "VMA")
    assert encode_bind(bind) == b"esme\0secret\0VMA\0\x34\x00\x00\0"
    assert decode_bind(encode_bind(bind)) == bind


def test_short_message_layout_and_round_trip() -> None:
    sm = ShortMessage(
        source_addr="14155550199",
        destination_addr="14155550100",
        short_message=b"hi",
        source_addr_ton=1,
        source_addr_npi=1,
        dest_addr_ton=1,
        dest_addr_npi=1,
        esm_class=0x40,
        registered_delivery=1,
        data_coding=8,
        tlvs={Tag.RECEIPTED_MESSAGE_ID: b"X1\0"},
    )
    body = encode_short_message(sm)
    assert body == (
        b"\0"  # service_type
        b"\x01\x0114155550199\0"
        b"\x01\x0114155550100\0"
        b"\x40\x00\x00"  # esm_class, protocol_id, priority_flag
        b"\0\0"  # schedule_delivery_time, validity_period
        b"\x01\x00\x08\x00\x02hi"  # registered, replace, data_coding, default id, length
        b"\x00\x1e\x00\x03X1\0"  # TLV receipted_message_id
    )
    assert decode_short_message(body) == sm


def test_short_message_over_254_octets_is_refused() -> None:
    with pytest.raises(ValueError, match="254"):
        encode_short_message(ShortMessage("a", "b", b"x" * 255))


@pytest.mark.parametrize(
    "body",
    [b"", b"\0\x01\x01abc", b"\0\x01\x0114155550199\0\x01\x01x\0\0\0\0\0\x01\0\0\x00\x05hi"],
)
def test_truncated_bodies_are_pdu_errors(body: bytes) -> None:
    with pytest.raises(PduError):
        decode_short_message(body)


def test_length_mismatch_is_a_pdu_error() -> None:
    with pytest.raises(PduError) as error:
        decode_pdu(struct.pack(">IIII", 17, 0x15, 0, 1))
    assert error.value.status == 0x02


async def test_read_pdu_frames_a_stream() -> None:
    reader = asyncio.StreamReader()
    first = encode_pdu(Pdu(Command.SUBMIT_SM_RESP, 0, 1, b"id-1\0"))
    second = encode_pdu(Pdu(Command.ENQUIRE_LINK, 0, 2))
    reader.feed_data(first + second[:5])
    assert read_message_id((await read_pdu(reader)).body) == "id-1"
    reader.feed_data(second[5:])
    assert (await read_pdu(reader)).command_id == Command.ENQUIRE_LINK
    reader.feed_data(struct.pack(">IIII", 5, 0, 0, 0))
    with pytest.raises(PduError):
        await read_pdu(reader)


def test_read_message_id_of_an_empty_error_body() -> None:
    assert read_message_id(b"") == ""


# --- GSM 03.38 ------------------------------------------------------------------------


def test_every_gsm7_character_round_trips() -> None:
    text = GSM7_BASIC + GSM7_EXTENSION
    encoded = gsm7_encode(text)
    assert len(encoded) == len(GSM7_BASIC) + 2 * len(GSM7_EXTENSION)
    assert max(encoded) <= 0x7F
    assert gsm7_decode(encoded) == text


@pytest.mark.parametrize(
    ("char", "code"),
    [("@", b"\x00"), ("$", b"\x02"), ("_", b"\x11"), ("¤", b"\x24"), ("¡", b"\x40"),
     ("¿", b"\x60"), ("Ç", b"\x09"), ("É", b"\x1f"), ("€", b"\x1b\x65"), ("{", b"\x1b\x28"),
     ("\f", b"\x1b\x0a"), ("\\", b"\x1b\x2f")],
)  # fmt: skip
def test_gsm7_code_points(char: str, code: bytes) -> None:
    assert gsm7_encode(char) == code


def test_single_part_has_no_udh() -> None:
    (part,) = encode_parts("x" * 160, reference=9)
    assert (part.data_coding, part.esm_class, part.short_message) == (0, 0, b"x" * 160)


def test_161_septets_make_two_parts() -> None:
    parts = encode_parts("x" * 161, reference=300)
    assert [p.short_message[:6] for p in parts] == [
        b"\x05\x00\x03\x2c\x02\x01",
        b"\x05\x00\x03\x2c\x02\x02",
    ]
    assert [len(p.short_message) for p in parts] == [6 + 153, 6 + 8]


def test_decode_text_by_data_coding() -> None:
    assert decode_text("é€".encode("utf-16-be"), 8) == "é€"
    assert decode_text(b"caf\xe9", 3) == "café"
    assert decode_text(b"STOP", 0) == "STOP"


# --- receipts ---------------------------------------------------------------------------


def receipt_sm(text: str = "", tlvs: dict[int, bytes] | None = None, esm: int = 4) -> ShortMessage:
    return ShortMessage("1", "2", text.encode(), esm_class=esm, tlvs=tlvs or {})


def test_text_fields_tolerate_case_and_missing_fields() -> None:
    assert text_fields("ID:abc Stat:delivrd Err:000 Text:stat:UNDELIV id:zzz") == {
        "id": "abc",
        "stat": "delivrd",
        "err": "000",
    }
    assert (
        text_fields(
            "id:1 sub:001 dlvrd:001 submit date:2601011200 done date:2601011201 stat:DELIVRD"
        )["done date"]
        == "2601011201"
    )


@pytest.mark.parametrize(
    ("stat", "status", "code"),
    [
        ("DELIVRD", "DELIVERED", None),
        ("UNDELIV", "UNDELIVERED", 30003),
        ("EXPIRED", "UNDELIVERED", 30003),
        ("DELETED", "UNDELIVERED", 30008),
        ("REJECTD", "FAILED", 30007),
        ("ACCEPTD", "SENT", None),
        ("ENROUTE", "SENT", None),
        ("delivered", "DELIVERED", None),
    ],
)
def test_text_receipt_states(stat: str, status: str, code: int | None) -> None:
    receipt = parse_receipt(receipt_sm(f"id:0A1B stat:{stat} err:001"))
    assert receipt is not None
    assert (receipt.status, receipt.provider_message_id, receipt.error_code) == (
        status,
        "0A1B",
        code,
    )
    if code:
        assert receipt.error_message == f"SMPP receipt stat:{stat.upper()} err:001"


@pytest.mark.parametrize(
    ("state", "status"),
    [(1, "SENT"), (2, "DELIVERED"), (3, "UNDELIVERED"), (4, "UNDELIVERED"), (5, "UNDELIVERED"),
     (6, "SENT"), (8, "FAILED")],
)  # fmt: skip
def test_tlv_receipt_states(state: int, status: str) -> None:
    tlvs = {Tag.RECEIPTED_MESSAGE_ID: b"99\0", Tag.MESSAGE_STATE: bytes((state,))}
    receipt = parse_receipt(receipt_sm(tlvs=tlvs, esm=0))
    assert receipt is not None
    assert (receipt.status, receipt.provider_message_id) == (status, "99")


def test_tlvs_win_over_the_text_and_ids_are_kept_as_written() -> None:
    tlvs = {Tag.RECEIPTED_MESSAGE_ID: b"1f\0", Tag.MESSAGE_STATE: b"\x02"}
    receipt = parse_receipt(receipt_sm("id:31 stat:UNDELIV", tlvs))
    assert receipt == Receipt("DELIVERED", provider_message_id="1f")


def test_nothing_to_report() -> None:
    assert parse_receipt(receipt_sm("id:1 stat:UNKNOWN")) is None
    assert parse_receipt(receipt_sm("stat:DELIVRD")) is None  # no id
    assert parse_receipt(receipt_sm("id:1")) is None  # no state


def test_what_is_a_receipt() -> None:
    assert is_receipt(receipt_sm("id:1", esm=0x04))
    assert is_receipt(receipt_sm(tlvs={Tag.RECEIPTED_MESSAGE_ID: b"1\0"}, esm=0))
    assert not is_receipt(receipt_sm("STOP", esm=0))


# --- status table -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code"),
    [(0x0B, 21211), (0x50, 21211), (0x51, 21211), (0x0A, 21212), (0x48, 21212),
     (0x49, 21212), (0x08, 30008), (0x45, 30008), (0x400, 30008)],
)  # fmt: skip
def test_submit_errors(status: int, code: int) -> None:
    error = submit_error(status)
    assert error.code == code
    assert error.message.startswith("SMPP ESME_")
    assert f"(0x{status:08X})" in error.message


def test_every_status_has_a_name() -> None:
    assert all(name.startswith("ESME_") for name, _ in STATUS_NAMES.values())


async def test_token_bucket_spaces_takers() -> None:
    bucket = TokenBucket(rate=100)
    loop = asyncio.get_running_loop()
    started = loop.time()
    await asyncio.gather(*(bucket.take() for _ in range(6)))
    assert loop.time() - started >= 5 / 100 * 0.95
