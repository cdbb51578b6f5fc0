"""`TwilioConnector.submit` against the Twilio peer (a real HTTP server): the account's
credentials or an API key, a Messaging Service, the pause after a throttle and its
scope, an operator error logged without its secret, and an unreachable API."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager

import msgspec
import pytest

from opencomms.connectors.base import Inbound, Receipt, Submission, SubmitOutcome
from opencomms.connectors.twilio import TwilioConfig, TwilioConnector
from tests.support.twilio_peer import TwilioPeer

ACCOUNT = "AC" + "51" * 16
TOKEN = "auth-token-submit-93d"
KEY, KEY_SECRET = "SK" + "4e" * 16, "key-secret-submit-1a7"
SERVICE = "MG" + "6f" * 16
PUBLIC = "https://comms.example.com"
SUBMISSION = Submission(
    attempt_id="SMa0",
    message_id="comms_message_1",
    operation_id="comms_operation_1",
    account_sid="AC" + "0" * 32,
    channel="SMS",
    from_address="+14155550100",
    to_address="+14155551234",
    content={"text": "Hello"},
)


def submission(n: int, to: str = "+14155551234", **changes: object) -> Submission:
    return msgspec.structs.replace(SUBMISSION, attempt_id=f"SMa{n}", to_address=to, **changes)


@pytest.fixture
def peer() -> Iterator[TwilioPeer]:
    with TwilioPeer(
        account_sid=ACCOUNT, auth_token=TOKEN, api_keys={KEY: KEY_SECRET},
        messaging_service_sids=(SERVICE,), statuses=(),
    ) as started:  # fmt: skip
        yield started


@asynccontextmanager
async def connector(base_url: str, **settings: object) -> AsyncIterator[TwilioConnector]:
    fields: dict[str, object] = {"account_sid": ACCOUNT, "auth_token": TOKEN, "base_url": base_url}
    config = msgspec.convert(fields | settings, TwilioConfig)
    made = TwilioConnector("up", config, PUBLIC)

    def stored(_: Receipt | Inbound) -> object:
        raise AssertionError("no report expected")

    await made.start(stored, stored)  # type: ignore[arg-type]
    try:
        yield made
    finally:
        await made.close()


async def test_an_api_key_and_a_messaging_service(peer: TwilioPeer) -> None:
    async with connector(
        peer.base_url, api_key_sid=KEY, api_key_secret=KEY_SECRET, messaging_service_sid=SERVICE
    ) as up:
        (result,) = await up.submit([submission(1, valid_for_ms=90_500)])
    assert result.outcome is SubmitOutcome.ACCEPTED
    (accepted,) = peer.accepted
    assert result.provider_message_id == accepted.sid
    out = accepted.outgoing
    assert (out.messaging_service_sid, out.from_, out.validity_period_s) == (SERVICE, None, 91)
    assert out.status_callback == f"{PUBLIC}/webhooks/up?attempt=SMa1"


async def test_a_throttle_pauses_every_send_until_its_retry_after(peer: TwilioPeer) -> None:
    peer.refuse("+14155551234", 20429, retry_after="30")
    async with connector(peer.base_url) as up:
        (first,) = await up.submit([submission(1)])
        (second,) = await up.submit([submission(2, to="+14155551235")])
    assert (first.outcome, first.retry_after_ms) == (SubmitOutcome.THROTTLED, 30_000)
    assert second.outcome is SubmitOutcome.THROTTLED and 25_000 < second.retry_after_ms <= 30_000
    assert len(peer.sends) == 1  # the second never went out
    assert await up.was_submitted(["SMa1", "SMa2"]) == {"SMa1": False, "SMa2": False}


async def test_one_numbers_full_queue_holds_back_only_that_attempt(peer: TwilioPeer) -> None:
    peer.refuse("+14155551234", 21611)
    async with connector(peer.base_url) as up:
        (first,) = await up.submit([submission(1)])
        (second,) = await up.submit([submission(2, to="+14155551235")])
    assert (first.outcome, first.retry_after_ms) == (SubmitOutcome.THROTTLED, 60_000)
    assert second.outcome is SubmitOutcome.ACCEPTED


async def test_refused_credentials_wait_and_say_so_without_the_secret(
    peer: TwilioPeer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong = "wrong-auth-token-77f"
    async with connector(peer.base_url, auth_token=wrong) as up:
        (result,) = await up.submit([submission(1)])
    assert (result.outcome, result.retry_after_ms) == (SubmitOutcome.THROTTLED, 60_000)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert len(errors) == 1 and "20003" in errors[0]
    assert all(wrong not in r.getMessage() and TOKEN not in r.getMessage() for r in caplog.records)
    assert peer.accepted == []


async def test_an_unreachable_api_is_throttled_never_in_doubt() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    async with connector(f"http://127.0.0.1:{port}") as up:
        (result,) = await up.submit([submission(1)])
    assert (result.outcome, result.retry_after_ms) == (SubmitOutcome.THROTTLED, 1000)
    assert await up.was_submitted(["SMa1", "SMa9"]) == {"SMa1": False, "SMa9": None}


async def test_a_batch_is_answered_one_by_one_each_with_its_sid(peer: TwilioPeer) -> None:
    heard: list[str] = []
    async with connector(peer.base_url, connections=4) as up:
        results = await up.submit(
            [submission(n, to=f"+1415555{n:04d}") for n in range(20)],
            lambda result: heard.append(result.attempt_id),
        )
    assert (
        sorted(heard)
        == sorted(r.attempt_id for r in results)
        == sorted(f"SMa{n}" for n in range(20))
    )
    assert {r.provider_message_id for r in results} == {a.sid for a in peer.accepted}
    assert len(peer.accepted) == 20
