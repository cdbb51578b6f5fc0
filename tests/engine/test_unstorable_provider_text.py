"""What a provider sends is stored whatever it holds: a NUL (which PostgreSQL's text
refuses) becomes U+FFFD, and the reports that came with it are stored too.

Through a real server bound to the smpp34 SMSC harness, on both engines. Before this,
one receipt or inbound message holding a NUL made its whole batch of reports fail at
every retry on PostgreSQL: no later receipt or reply was ever stored.
"""

from __future__ import annotations

import asyncio
import random

import httpx

from opencomms.connectors.base import Inbound
from opencomms.engine.inbound import apply_inbound, storable_inbound
from tests.api import test_smpp_delivery
from tests.api.test_smpp_delivery import SENDER, Setup
from tests.support.server import ThreadServer

setup = test_smpp_delivery.setup  # the fixture: a server bound to the SMSC harness

REPLACEMENT = "\ufffd"


async def test_a_receipt_whose_error_text_holds_a_nul_is_stored_and_shown(setup: Setup) -> None:
    first = await setup.send_to("+14155550121")
    second = await setup.send_to("+14155550122")
    await setup.smsc.wait_for(lambda: len(setup.smsc.submits) == 2)
    await setup.status_of(first, "SENT")
    await setup.status_of(second, "SENT")
    by_number = {s.destination_addr: s for s in setup.smsc.submits}
    await setup.smsc.wait_for(lambda: all(s.message_id for s in by_number.values()))

    await setup.smsc.receipt(by_number["14155550121"].message_id or "", "UNDELIV", err="0\x001")
    await setup.smsc.receipt(by_number["14155550122"].message_id or "", "DELIVRD")

    undelivered = await setup.status_of(first, "UNDELIVERED")
    assert f"err:0{REPLACEMENT}1" in undelivered["attempts"][0]["error"]["message"]
    await setup.status_of(second, "DELIVERED")


async def test_an_inbound_message_holding_a_nul_is_stored_and_replies_after_it_too(
    setup: Setup,
) -> None:
    # inbound on a shared sender goes to the account that last sent to its writer
    operation_id = await setup.send_to("+14155550131")
    await setup.status_of(operation_id, "SENT")

    # the SMSC gets its answer only once the message is stored
    await asyncio.wait_for(
        setup.smsc.inbound(
            "Hi\x00there".encode("utf-16-be"),  # UCS-2 (in GSM 03.38, 0x00 is "@")
            source_addr="14155550131",
            destination_addr=SENDER[1:],
            data_coding=8,
        ),
        timeout=15,
    )
    await asyncio.wait_for(
        setup.smsc.inbound(b"STOP", source_addr="14155550131", destination_addr=SENDER[1:]),
        timeout=15,
    )

    entry = await setup.poll(
        lambda: (r := setup.api.get("/OptOuts/+14155550131")).is_success and r.json()
    )
    assert entry["source"] == "KEYWORD"


async def test_a_receipt_with_an_id_too_long_for_its_index_does_not_hold_up_others(
    setup: Setup,
) -> None:
    """SMPP allows 65 octets; a receipt naming 8,000 incompressible characters (an id we
    never sent, so it waits as an early receipt) made its batch fail at every retry on
    PostgreSQL (the index entry was too large), and every receipt after it with it."""
    operation_id = await setup.send_to("+14155550141")
    submitted = await setup.smsc.wait_for(lambda: setup.smsc.submits and setup.smsc.submits[0])
    await setup.status_of(operation_id, "SENT")
    await setup.smsc.wait_for(lambda: submitted.message_id)
    draw = random.Random(7)
    long_id = "".join(chr(draw.randrange(0x21, 0x7F)) for _ in range(8_000))

    await asyncio.wait_for(setup.smsc.receipt(long_id, "DELIVRD", form="tlv"), timeout=15)
    await setup.smsc.receipt(submitted.message_id or "", "DELIVRD")

    await setup.status_of(operation_id, "DELIVERED")


def test_an_inbound_stop_from_an_address_too_long_for_its_index_is_stored(
    api: httpx.Client, server: ThreadServer
) -> None:
    """The writer of a STOP goes on the opt-out list, whose key is indexed: a writer of
    12,000 digits (no SMPP peer sends one; the codec reads what it is given) made the
    batch of inbound messages fail at every retry on PostgreSQL."""
    draw = random.Random(11)
    sender = f"+1206{draw.randrange(10**7):07d}"
    created = api.post("/Senders", json={"address": sender, "channel": "SMS"})
    assert created.status_code == 201, created.text
    writer = "+1" + "".join(str(draw.randrange(10)) for _ in range(12_000))
    message = storable_inbound(Inbound("simulator", "SMS", writer, sender, "STOP"))

    server.call(server.runtime.db.write(lambda conn: apply_inbound(conn, [message])))

    (entry,) = api.get("/OptOuts").json()["optOuts"]
    assert entry["source"] == "KEYWORD"
    assert entry["address"].startswith(writer[:100])
