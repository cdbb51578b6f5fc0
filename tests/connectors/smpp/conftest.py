"""Fixtures: an SMSC per test on a free loopback port, and connectors bound to it."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import pytest

from opencomms.connectors.base import Inbound, Receipt, Submission
from opencomms.connectors.smpp import SmppConfig, SmppConnector
from tests.support.smsc import Smsc


class Handlers:
    """The engine's side: records what the connector reports, and stores it at once
    unless `holding` (then the test resolves `pending` itself)."""

    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []
        self.pending: list[asyncio.Future[None]] = []
        self.holding = False

    def _stored(self) -> asyncio.Future[None]:
        future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        if self.holding:
            self.pending.append(future)
        else:
            future.set_result(None)
        return future

    def on_receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        self.receipts.append(receipt)
        return self._stored()

    def on_inbound(self, inbound: Inbound) -> asyncio.Future[None]:
        self.inbound.append(inbound)
        return self._stored()


MakeConnector = Callable[..., Awaitable[SmppConnector]]


@pytest.fixture
async def smsc() -> AsyncIterator[Smsc]:
    running = await Smsc().start()
    try:
        yield running
    finally:
        await running.stop()


@pytest.fixture
def handlers() -> Handlers:
    return Handlers()


@pytest.fixture
async def connector_factory(smsc: Smsc, handlers: Handlers) -> AsyncIterator[MakeConnector]:
    made: list[SmppConnector] = []

    async def make(*, wait_bound: bool = True, **settings: Any) -> SmppConnector:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": smsc.port,
            "system_id": "esme",
            "response_timeout": "2s",
            "reconnect_min": "20ms",
            "reconnect_max": "160ms",
        } | settings
        connector = SmppConnector("smpp-test", SmppConfig(**values), password="secret")
        connector.throttle_pause = 0.05
        made.append(connector)
        await connector.start(handlers.on_receipt, handlers.on_inbound)
        if wait_bound:
            binds = values.get("binds", 1)
            await smsc.wait_for(lambda: len(smsc.sessions) >= binds)
        return connector

    yield make
    for connector in made:
        await connector.close()


@pytest.fixture
async def connector(connector_factory: MakeConnector) -> SmppConnector:
    return await connector_factory()


def sms(attempt_id: str, text: str = "Hello", to: str = "+14155550100") -> Submission:
    return Submission(
        attempt_id=attempt_id,
        message_id=f"msg-{attempt_id}",
        operation_id="op-1",
        account_sid="AC1",
        channel="SMS",
        from_address="+14155550199",
        to_address=to,
        content={"text": text},
    )
