"""SMS over SMPP end to end: a real server configured with an `smpp` connector bound to
the smpp34 SMSC harness; what a user sees through the API.

The harness runs on the test's event loop and the server in its own thread, so the
blocking HTTP helpers run in a worker thread (`poll`)."""

from __future__ import annotations

import asyncio
import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any, TypeVar

import httpx
import pytest

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.settings import load_settings
from tests.support.databases import database_url
from tests.support.polling import all_messages, operation, send, wait_completed, wait_until
from tests.support.server import ThreadServer
from tests.support.smsc import Smsc

T = TypeVar("T")

SENDER = "+12065550100"
CONFIG = """\
[connectors.smsc]
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "opencomms"
password_env = "SMSC_PASSWORD"
binds = 2
window = 20
reconnect_min = "100ms"
reconnect_max = "500ms"
response_timeout = "{response_timeout}"
receipt_wait = "{receipt_wait}"
fallback_timeout = "{receipt_wait}"

[[senders]]
address = "{sender}"
channel = "SMS"
connector = "smsc"

[[senders]]
address = "+15005550006"
channel = "SMS"
connector = "simulator"

[[sender_pools]]
name = "default"
senders = ["SMS:{sender}"]

[[sender_pools]]
name = "with fallback"
senders = ["SMS:{sender}", "SMS:+15005550006"]
"""


# a second SMSC, for the tests marked `second_smsc`: its ids count from 1 like the first's
SECOND = """
[connectors.other]
type = "smpp"
host = "127.0.0.1"
port = {port}
system_id = "opencomms"
password_env = "SMSC_PASSWORD"
reconnect_min = "100ms"
reconnect_max = "500ms"

[[senders]]
address = "{sender}"
channel = "SMS"
connector = "other"

[[sender_pools]]
name = "other"
senders = ["SMS:{sender}"]
"""
SECOND_SENDER = "+12065550111"


class Setup:
    def __init__(self, smsc: Smsc, api: httpx.Client, second: Smsc | None = None) -> None:
        self.smsc = smsc
        self.second = second
        self.api = api

    async def poll(self, check: Callable[[], T], within: float = 30) -> T:
        """`wait_until(check)` off the event loop, so the SMSC keeps answering."""
        return await asyncio.to_thread(wait_until, check, within)

    async def call(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> T:
        return await asyncio.to_thread(function, *args, **kwargs)

    async def send_to(self, *numbers: str, text: str = "Hello", **body: Any) -> str:
        to = [{"address": number, "channel": "PHONE"} for number in numbers]
        return await self.call(send, self.api, {"to": to, "content": {"text": text}, **body})

    async def messages(self, operation_id: str) -> list[dict[str, Any]]:
        return await self.call(all_messages, self.api, operationId=operation_id)

    async def message(self, operation_id: str) -> dict[str, Any]:
        (message,) = await self.messages(operation_id)
        detail: dict[str, Any] = (
            await self.call(self.api.get, f"/Messages/{message['id']}")
        ).json()
        return detail

    async def status_of(self, operation_id: str, status: str) -> dict[str, Any]:
        async def check() -> dict[str, Any] | None:
            if not await self.messages(operation_id):
                return None  # not fanned out yet
            message = await self.message(operation_id)
            return message if message["status"] == status else None

        deadline = asyncio.get_running_loop().time() + 30
        while (found := await check()) is None:
            assert asyncio.get_running_loop().time() < deadline, f"never {status}"
            await asyncio.sleep(0.05)
        return found


@pytest.fixture(params=["sqlite", "postgresql"])
async def setup(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Setup]:
    smsc = await Smsc().start()
    second = await Smsc().start() if request.node.get_closest_marker("second_smsc") else None
    marker = request.node.get_closest_marker("receipt_wait")
    receipt_wait = marker.args[0] if marker else "60s"
    marker = request.node.get_closest_marker("response_timeout")
    response_timeout = marker.args[0] if marker else "3s"
    path = tmp_path / "opencomms.toml"
    path.write_text(
        CONFIG.format(
            port=smsc.port,
            sender=SENDER,
            receipt_wait=receipt_wait,
            response_timeout=response_timeout,
        )
        + (SECOND.format(port=second.port, sender=SECOND_SENDER) if second else "")
    )
    account = (new_account_sid(), new_auth_token())
    # (it runs its own event loop to make a PostgreSQL database: off this one)
    database = database_url(request.param, str(tmp_path))
    url = await asyncio.to_thread(database.__enter__)
    try:
        environ = {
            "SMSC_PASSWORD": "secret",
            "OPENCOMMS_DATABASE_URL": url,
            "OPENCOMMS_ACCOUNT_SID": account[0],
            "OPENCOMMS_AUTH_TOKEN": account[1],
        }
        settings = load_settings(str(path), environ=environ, connector_types=CONNECTOR_TYPES)
        settings.server.secret_key_file = str(tmp_path / "opencomms.key")
        settings.simulator.receipt_latency_ms = [0, 5]
        server = await asyncio.to_thread(ThreadServer(settings).start)
        try:
            await smsc.wait_for(lambda: len(smsc.sessions) == 2, within=15)
            if second:
                await second.wait_for(lambda: len(second.sessions) == 1, within=15)
            with httpx.Client(base_url=server.url + "/v1", auth=account, timeout=30) as api:
                yield Setup(smsc, api, second)
        finally:
            await asyncio.to_thread(server.stop)
    finally:
        await smsc.stop()
        if second:
            await second.stop()
        await asyncio.to_thread(database.__exit__, None, None, None)


async def test_a_delivery_receipt_makes_the_message_delivered(setup: Setup) -> None:
    operation_id = await setup.send_to("+14155550101")
    submitted = await setup.smsc.wait_for(lambda: setup.smsc.submits and setup.smsc.submits[0])
    sent = await setup.status_of(operation_id, "SENT")
    assert sent["attempts"][0]["from"]["address"] == SENDER

    await setup.smsc.wait_for(lambda: submitted.message_id)
    await setup.smsc.receipt(submitted.message_id, "DELIVRD")

    delivered = await setup.status_of(operation_id, "DELIVERED")
    assert delivered["attempts"][0]["status"] == "DELIVERED"
    assert submitted.destination_addr == "14155550101"


@pytest.mark.parametrize("form", ["text", "tlv"])
async def test_an_undelivered_receipt_in_either_form_is_undelivered(
    setup: Setup, form: str
) -> None:
    operation_id = await setup.send_to("+14155550102")
    submitted = await setup.smsc.wait_for(lambda: setup.smsc.submits and setup.smsc.submits[0])
    await setup.status_of(operation_id, "SENT")

    assert submitted.message_id is not None
    await setup.smsc.receipt(submitted.message_id, "UNDELIV", form=form)

    message = await setup.status_of(operation_id, "UNDELIVERED")
    assert message["attempts"][0]["error"]["code"]


async def test_a_receipt_that_overtakes_its_answer_is_applied_once_the_answer_comes(
    setup: Setup,
) -> None:
    setup.smsc.holding = True
    operation_id = await setup.send_to("+14155550103")
    held = await setup.smsc.wait_for(lambda: setup.smsc.held and setup.smsc.held[0])

    await setup.smsc.receipt("EARLY-1", "DELIVRD")  # acknowledged: stored, to wait
    setup.smsc.holding = False
    setup.smsc.answer(held, "EARLY-1")

    message = await setup.status_of(operation_id, "DELIVERED")
    assert [a["status"] for a in message["attempts"]] == ["DELIVERED"]


async def test_an_answer_that_comes_after_the_response_timeout_still_matches_receipts(
    setup: Setup,
) -> None:
    setup.smsc.holding = True
    operation_id = await setup.send_to("+14155550112")
    held = await setup.smsc.wait_for(lambda: setup.smsc.held and setup.smsc.held[0])
    await asyncio.sleep(3.5)  # past response_timeout: the submit is in doubt

    setup.smsc.holding = False
    setup.smsc.answer(held, "LATE-1")
    await setup.smsc.receipt("LATE-1", "DELIVRD")

    message = await setup.status_of(operation_id, "DELIVERED")
    assert [a["status"] for a in message["attempts"]] == ["DELIVERED"]
    assert len(setup.smsc.submits) == 1


@pytest.mark.response_timeout("60s")
async def test_each_answer_is_stored_as_it_comes_not_when_its_whole_claim_is_through(
    setup: Setup,
) -> None:
    """The SMSC's id is on its attempt as soon as its submit_sm_resp comes: the receipt
    that follows applies while another submit sent with it is still unanswered."""
    setup.smsc.holding = True
    operation_id = await setup.send_to("+14155550121", "+14155550122")
    answered, waiting = await setup.smsc.wait_for(
        lambda: len(setup.smsc.held) == 2 and setup.smsc.held
    )
    setup.smsc.answer(answered, "EACH-1")
    await setup.smsc.receipt("EACH-1", "DELIVRD")

    def statuses() -> dict[str, str]:
        listed = all_messages(setup.api, operationId=operation_id)
        return {m["to"][0]["address"]: m["status"] for m in listed}

    first, second = "+" + answered.destination_addr, "+" + waiting.destination_addr
    seen = await setup.poll(lambda: (now := statuses())[first] == "DELIVERED" and now)
    assert seen[second] == "QUEUED"
    assert waiting in setup.smsc.held  # its answer is still to come

    setup.smsc.answer(waiting, "EACH-2")
    await setup.smsc.receipt("EACH-2", "DELIVRD")
    await setup.poll(lambda: set(statuses().values()) == {"DELIVERED"})


@pytest.mark.second_smsc
async def test_two_smscs_giving_the_same_id_each_get_their_own_receipt(setup: Setup) -> None:
    """Receipts match within the connector they came by: two SMSCs that both number
    their messages from 1 never move each other's messages."""
    assert setup.second is not None
    pools = (await setup.call(setup.api.get, "/SenderPools")).json()["senderPools"]
    other = next(pool for pool in pools if pool["name"] == "other")
    first_operation = await setup.send_to("+14155550131")
    by_other = {"from": {"senderPoolId": other["id"]}}
    second_operation = await setup.send_to("+14155550132", **by_other)
    await setup.status_of(first_operation, "SENT")
    await setup.status_of(second_operation, "SENT")
    (first,), (second,) = setup.smsc.submits, setup.second.submits
    assert first.message_id == second.message_id  # the same id, from two SMSCs

    await setup.smsc.receipt(first.message_id or "", "DELIVRD")
    await setup.second.receipt(second.message_id or "", "UNDELIV")

    delivered = await setup.status_of(first_operation, "DELIVERED")
    undelivered = await setup.status_of(second_operation, "UNDELIVERED")
    assert [a["status"] for a in delivered["attempts"]] == ["DELIVERED"]
    assert [a["status"] for a in undelivered["attempts"]] == ["UNDELIVERED"]
    assert undelivered["attempts"][0]["from"]["address"] == SECOND_SENDER


async def test_a_duplicated_receipt_changes_nothing_more(setup: Setup) -> None:
    operation_id = await setup.send_to("+14155550104")
    submitted = await setup.smsc.wait_for(lambda: setup.smsc.submits and setup.smsc.submits[0])
    await setup.status_of(operation_id, "SENT")
    assert submitted.message_id is not None

    await setup.smsc.receipt(submitted.message_id, "DELIVRD")
    await setup.smsc.receipt(submitted.message_id, "DELIVRD")
    await setup.smsc.receipt(submitted.message_id, "UNDELIV")  # stale: after a final status

    await setup.status_of(operation_id, "DELIVERED")
    stats = (await setup.call(operation, setup.api, operation_id))["stats"]
    assert (stats["delivered"], stats["undelivered"], stats["total"]) == (1, 0, 1)


async def test_a_long_message_is_delivered_when_every_part_is(setup: Setup) -> None:
    operation_id = await setup.send_to("+14155550105", text="x" * 200)  # two parts
    await setup.smsc.wait_for(lambda: len(setup.smsc.submits) == 2)
    await setup.status_of(operation_id, "SENT")
    first, second = setup.smsc.submits
    assert first.udh[-2:] == b"\x02\x01" and second.udh[-2:] == b"\x02\x02"
    assert first.message_id is not None and second.message_id is not None

    await setup.smsc.receipt(first.message_id, "DELIVRD")
    await asyncio.sleep(0.3)
    assert (await setup.message(operation_id))["status"] == "SENT"
    await setup.smsc.receipt(second.message_id, "DELIVRD")

    message = await setup.status_of(operation_id, "DELIVERED")
    assert (message["segments"], message["encoding"]) == (2, "GSM-7")


async def test_one_undelivered_part_makes_the_message_undelivered(setup: Setup) -> None:
    operation_id = await setup.send_to("+14155550106", text="ж" * 100)  # UCS-2, two parts
    await setup.smsc.wait_for(lambda: len(setup.smsc.submits) == 2)
    await setup.status_of(operation_id, "SENT")
    first, second = setup.smsc.submits
    assert {first.data_coding, second.data_coding} == {8}
    assert second.message_id is not None

    await setup.smsc.receipt(second.message_id, "UNDELIV")

    await setup.status_of(operation_id, "UNDELIVERED")


async def test_throttling_is_retried_without_a_failed_attempt(setup: Setup) -> None:
    setup.smsc.answers["14155550107"] = [0x58, 0x14]  # ESME_RTHROTTLED, ESME_RMSGQFUL
    operation_id = await setup.send_to("+14155550107")

    message = await setup.status_of(operation_id, "SENT")

    assert len(message["attempts"]) == 1
    statuses = [s.status for s in setup.smsc.submits]
    assert statuses == [0x58, 0x14, 0]


async def test_a_permanent_error_fails_the_attempt_and_the_fallback_moves_on(
    setup: Setup,
) -> None:
    pools = (await setup.call(setup.api.get, "/SenderPools")).json()["senderPools"]
    fallback = next(pool for pool in pools if pool["name"] == "with fallback")
    setup.smsc.answers["14155550108"] = [0x0B]  # ESME_RINVDSTADR

    operation_id = await setup.send_to("+14155550108", **{"from": {"senderPoolId": fallback["id"]}})

    await setup.call(wait_completed, setup.api, operation_id)
    message = await setup.message(operation_id)
    smpp, simulator = message["attempts"]
    assert (smpp["status"], smpp["error"]["code"]) == ("FAILED", 21211)
    assert "ESME_RINVDSTADR" in smpp["error"]["message"]
    assert simulator["from"]["address"] == "+15005550006"
    assert message["status"] == "DELIVERED"


@pytest.mark.receipt_wait("1s")
async def test_a_receipt_that_never_comes_ends_in_the_receipt_wait_then_fallback(
    setup: Setup,
) -> None:
    pools = (await setup.call(setup.api.get, "/SenderPools")).json()["senderPools"]
    fallback = next(pool for pool in pools if pool["name"] == "with fallback")

    operation_id = await setup.send_to("+14155550111", **{"from": {"senderPoolId": fallback["id"]}})

    await setup.call(wait_completed, setup.api, operation_id)
    message = await setup.message(operation_id)
    smpp, simulator = message["attempts"]
    assert smpp["status"] == "SENT"  # the SMSC took it; no receipt ever came
    assert simulator["status"] == message["status"] == "DELIVERED"


async def test_a_lost_answer_is_never_sent_again(setup: Setup) -> None:
    setup.smsc.drop_on_response = 1  # the SMSC takes it, the answer is lost with the link
    operation_id = await setup.send_to("+14155550109")

    message = await setup.status_of(operation_id, "SENT")
    await asyncio.sleep(1)

    assert [s.destination_addr for s in setup.smsc.submits] == ["14155550109"]
    assert len(message["attempts"]) == 1


async def test_an_inbound_stop_opts_the_writer_out(setup: Setup) -> None:
    # the number is the operator's: a STOP goes to the account that sent to the writer last
    setup.smsc.auto_receipt = "DELIVRD"
    await setup.call(wait_completed, setup.api, await setup.send_to("+14155550110"))
    await setup.smsc.inbound(b"STOP", source_addr="14155550110", destination_addr=SENDER[1:])

    entry = await setup.poll(
        lambda: (r := setup.api.get("/OptOuts/+14155550110")).is_success and r.json()
    )
    assert entry["source"] == "KEYWORD"
    operation_id = await setup.send_to("+14155550110")
    await setup.call(wait_completed, setup.api, operation_id)
    assert (await setup.message(operation_id))["error"]["code"] == 21610


@pytest.mark.slow
async def test_ten_thousand_recipients_complete_with_every_receipt_matched(setup: Setup) -> None:
    setup.smsc.auto_receipt = "DELIVRD"
    numbers = [f"+1415{n // 9000:03d}{1000 + n % 9000:04d}" for n in range(10_000)]
    operation_id = await setup.call(
        send,
        setup.api,
        {"to": [{"address": n, "channel": "PHONE"} for n in numbers], "content": {"text": "Hi"}},
    )

    done = await asyncio.to_thread(wait_completed, setup.api, operation_id, 300)

    assert done["stats"]["delivered"] == 10_000, json.dumps(done["stats"])
    per_number = Counter(s.destination_addr for s in setup.smsc.submits)
    assert len(per_number) == 10_000 and set(per_number.values()) == {1}
