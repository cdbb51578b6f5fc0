"""The rbm connector against the RBM test peer: what only a stateful RBM shows (a resend
after a lost answer delivers once, the ttl and revocation, tokens renewed, content the
peer refuses), with the webhook on the real route."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import msgspec
import pytest

from opencomms.connectors.base import Inbound, Receipt, Submission, SubmitOutcome
from opencomms.connectors.rbm import RbmConfig, RbmConnector
from opencomms.connectors.rbm.connector import message_id_for
from tests.support.rbm_peer import RbmPeer
from tests.support.webhook_host import hosting_webhooks

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome
AGENT = "peer_agent"
PHONE = "+14155550142"
SUBMISSION = Submission(
    attempt_id="SM" + "5e" * 16,
    message_id="comms_message_1",
    operation_id="comms_operation_1",
    account_sid="AC" + "0" * 32,
    channel="RCS",
    from_address=AGENT,
    to_address=PHONE,
    content={"text": "Your code is 123456"},
)
MESSAGE_ID = message_id_for(SUBMISSION.attempt_id)


@dataclass
class Rig:
    peer: RbmPeer
    connector: RbmConnector
    receipts: list[Receipt]
    inbound: list[Inbound]

    async def heard(self, status: str) -> Receipt:
        found = await self.peer.until(lambda: [r for r in self.receipts if r.status == status])
        receipt: Receipt = found[0]
        return receipt


@pytest.fixture
async def rig(tmp_path: Path) -> AsyncIterator[Rig]:
    receipts: list[Receipt] = []
    inbound: list[Inbound] = []

    def stored() -> asyncio.Future[None]:
        future = asyncio.get_running_loop().create_future()
        future.set_result(None)
        return future

    def on_receipt(receipt: Receipt) -> asyncio.Future[None]:
        receipts.append(receipt)
        return stored()

    def on_inbound(message: Inbound) -> asyncio.Future[None]:
        inbound.append(message)
        return stored()

    with RbmPeer(tmp_path, AGENT) as peer:
        config = RbmConfig(
            agent_id=AGENT,
            service_account_file=str(peer.key_file),
            client_token=peer.client_token,
            base_url=peer.url,
        )
        connector = RbmConnector("rcs", config)
        connector.backoff_min = 0.05
        await connector.start(on_receipt, on_inbound)
        try:
            async with hosting_webhooks({"rcs": connector}) as base_url:
                handshake = await peer.aregister_webhook(f"{base_url}/webhooks/rcs")
                assert handshake.ok, handshake
                yield Rig(peer, connector, receipts, inbound)
        finally:
            await connector.close()


async def test_a_resend_after_a_lost_answer_is_delivered_once(rig: Rig) -> None:
    rig.peer.fail(PHONE, 503, after_accept=True)  # taken, and the answer lost
    [first] = await rig.connector.submit([SUBMISSION])
    assert first.outcome is THROTTLED
    assert await rig.connector.was_submitted([SUBMISSION.attempt_id]) == {
        SUBMISSION.attempt_id: False
    }
    [again] = await rig.connector.submit([SUBMISSION])
    assert (again.outcome, again.provider_message_id) == (ACCEPTED, MESSAGE_ID)
    assert await rig.heard("DELIVERED") == Receipt(
        "DELIVERED", attempt_id=SUBMISSION.attempt_id, provider_message_id=MESSAGE_ID
    )
    assert [status for _, _, status in rig.peer.answers(MESSAGE_ID)] == [503, 409]
    assert rig.peer.delivered_to(PHONE) == [MESSAGE_ID]
    assert rig.peer.delivered_twice() == []


async def test_content_the_peer_refuses_fails_the_attempt(rig: Rig) -> None:
    too_long = msgspec.structs.replace(SUBMISSION, content={"text": "x" * 3073})
    [result] = await rig.connector.submit([too_long])
    assert (result.outcome, result.error_code) == (REJECTED, 63005)
    assert result.error_message is not None
    assert result.error_message.startswith("RBM 400 INVALID_ARGUMENT: ")
    assert "3072" in result.error_message


async def test_a_number_without_rcs_fails_at_once(rig: Rig) -> None:
    rig.peer.unreachable(PHONE)
    [result] = await rig.connector.submit([SUBMISSION])
    assert (result.outcome, result.error_code) == (REJECTED, 61337)
    assert rig.peer.messages() == []


async def test_the_ttl_expires_an_undelivered_message(rig: Rig) -> None:
    rig.peer.offline(PHONE)
    late = msgspec.structs.replace(SUBMISSION, valid_for_ms=300)
    [result] = await rig.connector.submit([late])
    assert result.outcome is ACCEPTED
    assert rig.peer.message(MESSAGE_ID).body["ttl"] == "0.300s"  # type: ignore[union-attr]
    receipt = await rig.heard("UNDELIVERED")
    assert (receipt.provider_message_id, receipt.error_code) == (MESSAGE_ID, 30003)
    rig.peer.come_online(PHONE)
    await asyncio.sleep(0.1)
    assert rig.peer.delivered_to(PHONE) == []


async def test_revoking_takes_back_what_is_not_delivered(rig: Rig) -> None:
    offline = "+14155550143"
    rig.peer.offline(offline)
    held = msgspec.structs.replace(SUBMISSION, attempt_id="SM" + "77" * 16, to_address=offline)
    results = await rig.connector.submit([SUBMISSION, held])
    assert {r.outcome for r in results} == {ACCEPTED}
    await rig.heard("DELIVERED")

    await rig.connector.revoke([SUBMISSION, held])

    answers = {(r.phone, r.status) for r in rig.peer.revocations()}
    assert answers == {(PHONE, 404), (offline, 200)}  # delivered already; taken back
    rig.peer.come_online(offline)
    await asyncio.sleep(0.1)
    assert rig.peer.delivered_to(offline) == []


async def test_tokens_are_renewed_and_an_expired_one_replaced(rig: Rig) -> None:
    rig.peer.options.token_lifetime = 1  # renewed after half of it
    numbers = [f"+1415555{n:04d}" for n in range(3)]
    for n, number in enumerate(numbers):
        submission = msgspec.structs.replace(
            SUBMISSION, to_address=number, attempt_id=f"SM{n:032x}"
        )
        [result] = await rig.connector.submit([submission])
        assert result.outcome is ACCEPTED
        await asyncio.sleep(0.6)
    assert len(rig.peer.tokens()) == 3
    rig.peer.options.token_lifetime = 3600
    rig.peer.expire_tokens()  # RBM answers 401: one new token, the send goes again
    [result] = await rig.connector.submit([SUBMISSION])
    assert result.outcome is ACCEPTED
    assert len(rig.peer.tokens()) == 4
    assert all(status != 401 for _, phone, status in rig.peer.answers() if phone != PHONE)


async def test_events_late_duplicated_and_out_of_order(rig: Rig) -> None:
    rig.peer.options.read = True
    rig.peer.options.read_first = True
    rig.peer.duplicate_events(copies=2)
    rig.peer.hold_events()
    [result] = await rig.connector.submit([SUBMISSION])
    assert result.outcome is ACCEPTED
    assert rig.peer.release_events(reverse=True) == 4
    await rig.peer.until(lambda: rig.peer.pending_events() == 0)
    assert sorted(r.status for r in rig.receipts) == ["DELIVERED", "READ"]


async def test_a_user_reply_is_inbound(rig: Rig) -> None:
    rig.peer.push_user_message(PHONE, text="STOP")
    rig.peer.push_user_message(PHONE, suggestion=("Yes please", "yes"))
    await rig.peer.until(lambda: len(rig.inbound) == 2)
    assert sorted((m.from_address, m.to_address, m.text) for m in rig.inbound) == [
        (PHONE, AGENT, "STOP"),
        (PHONE, AGENT, "Yes please"),
    ]
