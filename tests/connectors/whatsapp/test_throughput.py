"""Pacing against the WhatsApp test peer, which refuses (130429) what goes over a
number's throughput as Meta does: at the configured 80/s nothing is refused; at twice
the peer's rate the refusals come back THROTTLED, never failed."""

from __future__ import annotations

import asyncio
import time
from collections import Counter

import msgspec

from opencomms.connectors.base import Submission, SubmitOutcome
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector
from tests.support.whatsapp_peer import WhatsAppPeer

TOKEN, SECRET = "EAAG-pace-token-7d2", "app-secret-pace-1b9"
NUMBER_ID = "106540352242922"
BASE = Submission(
    attempt_id="",
    message_id="comms_message_x",
    operation_id="comms_operation_x",
    account_sid="AC" + "0" * 32,
    channel="WHATSAPP",
    from_address="+15550783881",
    to_address="",
    content={"text": "Hello"},
)


def batch(count: int) -> list[Submission]:
    return [
        msgspec.structs.replace(BASE, attempt_id=f"SM{n:032x}", to_address=f"+1415555{n:04d}")
        for n in range(count)
    ]


async def submit_all(
    peer: WhatsAppPeer, throughput: float, count: int
) -> tuple[Counter[str], float]:
    config = WhatsAppConfig(
        phone_number_id=NUMBER_ID, access_token=TOKEN, app_secret=SECRET,
        base_url=peer.base_url, throughput=throughput,
    )  # fmt: skip
    connector = WhatsAppConnector("wa", config)
    await connector.start(lambda _: asyncio.Future(), lambda _: asyncio.Future())
    try:
        began = time.monotonic()
        results = await connector.submit(batch(count))
        elapsed = time.monotonic() - began
    finally:
        await connector.close()
    assert len(results) == count
    return Counter(result.outcome.value for result in results), elapsed


def peer() -> WhatsAppPeer:
    return WhatsAppPeer(access_token=TOKEN, app_secret=SECRET, phone_number_id=NUMBER_ID,
                        statuses=())  # fmt: skip


async def test_at_the_numbers_throughput_nothing_is_refused() -> None:
    with peer() as running:
        outcomes, elapsed = await submit_all(running, 80, 160)
        refused = [send for send in running.sends if send.status_code != 200]
    assert outcomes == {SubmitOutcome.ACCEPTED.value: 160}
    assert refused == []
    assert elapsed >= 1.5  # 160 at 80/s, after a burst of one


async def test_over_the_peers_throughput_the_refused_are_throttled_not_failed() -> None:
    with peer() as running:
        running.throughput_per_s = 20
        outcomes, _ = await submit_all(running, 0, 60)
        codes = Counter(send.error_code for send in running.sends)
    assert SubmitOutcome.REJECTED.value not in outcomes
    assert codes[130429] > 0
    assert outcomes[SubmitOutcome.THROTTLED.value] >= codes[130429]  # some never sent: paused
