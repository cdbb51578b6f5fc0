"""deliver_sm: receipts in text and TLV form, early, twice, per part; inbound messages;
and the acknowledgement that waits for the engine to have stored them."""

from __future__ import annotations

import asyncio

from opencomms.connectors.base import Inbound, Receipt
from opencomms.connectors.smpp import SmppConnector
from tests.connectors.smpp.conftest import Handlers, sms
from tests.support.smsc import Smsc


async def test_text_receipt_delivered(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    (result,) = await connector.submit([sms("a1")])
    assert result.provider_message_id is not None
    answer = await smsc.receipt(result.provider_message_id, "DELIVRD", form="text")
    assert answer.is_success
    assert handlers.receipts == [
        Receipt("DELIVERED", provider_message_id=result.provider_message_id)
    ]


async def test_tlv_receipt_undelivered_with_network_error(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    (result,) = await connector.submit([sms("a1")])
    message_id = result.provider_message_id or ""
    await smsc.receipt(message_id, "UNDELIV", form="tlv", network_error=b"\x03\x00\x01")
    (receipt,) = handlers.receipts
    assert receipt.status == "UNDELIVERED"
    assert receipt.provider_message_id == message_id
    assert receipt.error_code == 30003
    assert receipt.error_message == "SMPP receipt stat:UNDELIV network_error:GSM/0x0001"


async def test_non_terminal_receipt_reports_sent_and_unknown_is_only_acknowledged(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    assert (await smsc.receipt("M1", "ACCEPTD", form="both")).is_success
    assert (await smsc.receipt("M1", "UNKNOWN", form="both")).is_success
    assert [r.status for r in handlers.receipts] == ["SENT"]


async def test_receipt_before_the_submit_answer(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    smsc.holding = True
    submitting = asyncio.create_task(connector.submit([sms("a1")]))
    await smsc.wait_for(lambda: len(smsc.held) == 1)
    assert (await smsc.receipt("EARLY-1", "DELIVRD")).is_success
    smsc.answer(smsc.held[0], "EARLY-1")
    (result,) = await submitting
    assert result.provider_message_id == "EARLY-1"
    assert handlers.receipts == [Receipt("DELIVERED", provider_message_id="EARLY-1")]


async def test_duplicate_receipts_are_each_reported_and_acknowledged(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    (result,) = await connector.submit([sms("a1")])
    message_id = result.provider_message_id or ""
    for _ in range(2):
        assert (await smsc.receipt(message_id, "DELIVRD")).is_success
    assert handlers.receipts == [Receipt("DELIVERED", provider_message_id=message_id)] * 2


async def test_per_part_receipts_of_a_long_message(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    (result,) = await connector.submit([sms("long", "w" * 400)])
    assert len(result.part_ids) == 3
    for part_id, stat in zip(result.part_ids, ["DELIVRD", "UNDELIV", "DELIVRD"], strict=True):
        await smsc.receipt(part_id, stat)
    assert [(r.provider_message_id, r.status) for r in handlers.receipts] == [
        (result.part_ids[0], "DELIVERED"),
        (result.part_ids[1], "UNDELIVERED"),
        (result.part_ids[2], "DELIVERED"),
    ]


async def test_inbound_stop_goes_to_the_inbound_handler(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    assert (await smsc.inbound(b"STOP")).is_success
    assert handlers.inbound == [
        Inbound(
            connector="smpp-test",
            channel="SMS",
            from_address="+14155550123",
            to_address="+14155550100",
            text="STOP",
        )
    ]
    assert handlers.receipts == []


async def test_inbound_ucs2_latin1_and_national_numbers(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    await smsc.inbound("Стоп".encode("utf-16-be"), data_coding=8)
    await smsc.inbound("arrêt".encode("latin-1"), data_coding=3)
    await smsc.inbound(b"Stop \x00 \x1b\x65", source_addr="0612345678", source_addr_ton=2)
    assert [(i.text, i.from_address) for i in handlers.inbound] == [
        ("Стоп", "+14155550123"),
        ("arrêt", "+14155550123"),
        ("Stop @ €", "0612345678"),
    ]


async def test_acknowledged_only_once_stored(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    handlers.holding = True
    for send in (lambda: smsc.receipt("M1", "DELIVRD"), lambda: smsc.inbound(b"STOP")):
        sent = send()
        await smsc.wait_for(lambda: len(handlers.pending) == 1)
        await asyncio.sleep(0.1)  # time enough for an early deliver_sm_resp to arrive
        assert not sent.done()
        handlers.pending.pop().set_result(None)
        assert (await sent).is_success
    assert len(handlers.receipts) == len(handlers.inbound) == 1


async def test_unstored_receipt_is_answered_with_a_temporary_error(
    connector: SmppConnector, smsc: Smsc, handlers: Handlers
) -> None:
    handlers.holding = True
    receipt = smsc.receipt("M1", "DELIVRD")
    await smsc.wait_for(lambda: len(handlers.pending) == 1)
    handlers.pending[0].set_exception(RuntimeError("database down"))
    answer = await receipt
    assert answer.command_status == 0x64  # ESME_RX_T_APPN: the SMSC delivers it again
