"""The project's smpp connector against a real SMPP server: Jasmin 0.11.0, in front of
the example SMSC (tests/support/jasmin.py). Every message is accepted with Jasmin's id,
reaches the SMSC once per part, and its receipts come back matched by that id."""

from __future__ import annotations

import asyncio
from collections import defaultdict
from collections.abc import AsyncIterator

import pytest

from opencomms.connectors.base import (
    Inbound,
    Receipt,
    Submission,
    SubmitOutcome,
    SubmitResult,
)
from opencomms.connectors.smpp.config import SmppConfig
from opencomms.connectors.smpp.connector import SmppConnector
from tests.support.jasmin import UNDELIVERED_SUFFIX, JasminPeer, SmscSubmit


class Collected:
    """The receipts and inbound messages the connector reported, by provider id."""

    def __init__(self) -> None:
        self.receipts: dict[str, list[Receipt]] = defaultdict(list)
        self.inbound: list[Inbound] = []
        self.arrived = asyncio.Event()

    def receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        assert receipt.provider_message_id is not None, receipt
        self.receipts[receipt.provider_message_id].append(receipt)
        self.arrived.set()
        return _done()

    def message(self, message: Inbound) -> asyncio.Future[None]:
        self.inbound.append(message)
        return _done()

    async def wait_for(self, ids: set[str], status: str) -> None:
        """Until every id in `ids` has a receipt with `status` (30 s at most)."""

        async def every() -> None:
            while not all(any(r.status == status for r in self.receipts.get(i, [])) for i in ids):
                self.arrived.clear()
                await self.arrived.wait()

        try:
            await asyncio.wait_for(every(), 30)
        except TimeoutError:
            missing = [i for i in ids if not any(r.status == status for r in self.receipts[i])]
            pytest.fail(f"no {status} receipt for {len(missing)} of {len(ids)}: {missing[:5]}")


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


@pytest.fixture
async def connected(jasmin: JasminPeer) -> AsyncIterator[tuple[SmppConnector, Collected]]:
    config = SmppConfig(
        host=jasmin.smpp_host,
        port=jasmin.smpp_port,
        system_id=jasmin.system_id,
        binds=2,
        window=20,
        response_timeout="15s",
    )
    connector = SmppConnector("jasmin", config, password=jasmin.password)
    collected = Collected()
    await connector.start(collected.receipt, collected.message)
    try:
        yield connector, collected
    finally:
        await connector.close()


def submission(n: int, to: str, text: str) -> Submission:
    return Submission(
        attempt_id=f"AT{n:032d}",
        message_id=f"MS{n:032d}",
        operation_id="OP" + "0" * 32,
        account_sid="AC" + "0" * 32,
        channel="SMS",
        from_address="+14155550100",
        to_address=to,
        content={"text": text},
    )


def accepted(results: list[SubmitResult], count: int) -> dict[str, SubmitResult]:
    assert len(results) == count, results
    for result in results:
        assert result.outcome is SubmitOutcome.ACCEPTED, result
        assert result.provider_message_id, result
    return {result.attempt_id: result for result in results}


def at_smsc(jasmin: JasminPeer, destination: str) -> list[SmscSubmit]:
    return [s for s in jasmin.smsc_submits() if s.destination == destination]


async def test_short_messages_are_accepted_and_delivered(
    jasmin: JasminPeer, connected: tuple[SmppConnector, Collected]
) -> None:
    connector, collected = connected
    batch = [
        submission(n, f"+1415600{n:04d}", f"Hello {n}, your code is {n:06d}") for n in range(50)
    ]
    results = accepted(await connector.submit(batch), 50)
    ids = {result.provider_message_id for result in results.values() if result.provider_message_id}
    assert len(ids) == 50  # one id per message, no part ids
    assert all(not result.part_ids for result in results.values())

    await collected.wait_for(ids, "DELIVERED")
    for message_id in ids:  # Jasmin's ACCEPTD (SENT) comes first, then the SMSC's DELIVRD
        assert [r.status for r in collected.receipts[message_id]] == ["SENT", "DELIVERED"]

    for n in range(50):  # each reached the SMSC once, as written, asking for a receipt
        (submit,) = at_smsc(jasmin, f"1415600{n:04d}")
        assert submit.short_message == f"Hello {n}, your code is {n:06d}".encode()
        assert submit.source == "14155550100"
        assert submit.registered_delivery & 0x01
    assert collected.inbound == []


async def test_long_ucs2_message_is_sent_in_parts_each_delivered(
    jasmin: JasminPeer, connected: tuple[SmppConnector, Collected]
) -> None:
    connector, collected = connected
    text = "Привет! Ваш заказ №12345 отправлен и будет доставлен завтра до 18:00. Спасибо 🙂"
    assert len(text) > 70  # more than one UCS-2 part
    (result,) = accepted(
        await connector.submit([submission(1000, "+14156011000", text)]), 1
    ).values()
    assert len(result.part_ids) == 2
    assert result.part_ids[0] == result.provider_message_id

    await collected.wait_for(set(result.part_ids), "DELIVERED")

    parts = at_smsc(jasmin, "14156011000")
    assert len(parts) == 2
    assert all(part.data_coding == 8 and part.esm_class & 0x40 for part in parts)
    udh_lengths = [part.short_message[0] + 1 for part in parts]
    body = b"".join(part.short_message[n:] for part, n in zip(parts, udh_lengths, strict=True))
    assert body.decode("utf-16-be") == text  # the parts reassemble to the text


async def test_long_gsm_message_is_sent_in_parts(
    jasmin: JasminPeer, connected: tuple[SmppConnector, Collected]
) -> None:
    connector, collected = connected
    text = "Your parcel is on its way. " * 8  # 216 GSM-7 characters: two parts of ≤ 153
    (result,) = accepted(
        await connector.submit([submission(2000, "+14156012000", text)]), 1
    ).values()
    assert len(result.part_ids) == 2
    await collected.wait_for(set(result.part_ids), "DELIVERED")
    assert len(at_smsc(jasmin, "14156012000")) == 2


async def test_undeliverable_receipt_is_reported_with_its_error(
    jasmin: JasminPeer, connected: tuple[SmppConnector, Collected]
) -> None:
    connector, collected = connected
    batch = [submission(3000, f"+141560{UNDELIVERED_SUFFIX}", "This one is not delivered")]
    (result,) = accepted(await connector.submit(batch), 1).values()
    assert result.provider_message_id is not None
    await collected.wait_for({result.provider_message_id}, "UNDELIVERED")
    final = collected.receipts[result.provider_message_id][-1]
    assert final.status == "UNDELIVERED" and final.error_code is not None, final
