"""The few API calls the benchmarks make, over one keep-alive httpx client."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from typing import Any

import httpx
import msgspec

__all__ = [
    "SETTLED",
    "Api",
    "BenchFailure",
    "phone_number",
    "send_body",
]

# The Message statuses after which no further attempt is planned.
SETTLED = ("delivered", "read", "undelivered", "failed", "canceled")
EVENT_TYPES = ["com.twilio.comms-api.message.*", "com.twilio.comms-api.operation.*"]


class BenchFailure(AssertionError):
    """A scenario's own correctness check failed: its figure must not be reported as a pass."""


def phone_number(index: int) -> str:
    """An ordinary simulator number (its last 4 digits avoid the magic 0001-0008): every
    attempt on it is DELIVERED then READ on the first channel."""
    return f"+1415{index // 9000:03d}{1000 + index % 9000:04d}"


def send_body(recipients: int, offset: int = 0) -> bytes:
    """A `POST /v1/Messages` body to `recipients` ordinary numbers, with a variable."""
    body = {
        "to": [
            {"address": phone_number(offset + i), "channel": "PHONE", "variables": {"n": str(i)}}
            for i in range(recipients)
        ],
        "content": {"text": "Hello {{n}}, this is the opencomms benchmark."},
    }
    return msgspec.json.encode(body)


class Api:
    """An authenticated client of one server's `/v1/`."""

    def __init__(self, base_url: str, auth: tuple[str, str], *, timeout: float = 60) -> None:
        limits = httpx.Limits(max_connections=8, max_keepalive_connections=8)
        self.client = httpx.AsyncClient(
            base_url=base_url + "/v1", auth=auth, timeout=timeout, limits=limits
        )

    async def __aenter__(self) -> Api:
        return self

    async def __aexit__(self, *_: object) -> None:
        await self.client.aclose()

    async def send(self, body: bytes) -> str:
        """POST /v1/Messages; the operation id of its 202."""
        response = await self.client.post(
            "/Messages", content=body, headers={"Content-Type": "application/json"}
        )
        if response.status_code != 202:
            raise BenchFailure(f"send answered {response.status_code}: {response.text[:500]}")
        operation_id: str = response.json()["operationId"]
        return operation_id

    async def get_json(self, path: str, **params: Any) -> Any:
        response = await self.client.get(path, params=params)
        if response.status_code != 200:
            raise BenchFailure(f"GET {path} answered {response.status_code}: {response.text}")
        return msgspec.json.decode(response.content)

    async def operation(self, operation_id: str) -> dict[str, Any]:
        found: dict[str, Any] = await self.get_json(f"/Messages/Operations/{operation_id}")
        return found

    async def operations(self) -> list[dict[str, Any]]:
        """Every operation of the account, walking the pages."""
        found: list[dict[str, Any]] = []
        token: str | None = None
        while True:
            params: dict[str, Any] = {"pageSize": 1000}
            if token:
                params["pageToken"] = token
            page = await self.get_json("/Messages/Operations", **params)
            found += page["operations"]
            token = page["pagination"]["next"]
            if not token:
                return found

    async def add_sink(self, url: str) -> str:
        """A sink at `url` subscribed to every message and operation event."""
        sink = await self.client.post("/Sinks", json={"url": url})
        if sink.status_code != 201:
            raise BenchFailure(f"sink creation answered {sink.status_code}: {sink.text}")
        sink_id: str = sink.json()["id"]
        subscription = await self.client.post(
            "/Subscriptions", json={"sinkId": sink_id, "types": EVENT_TYPES}
        )
        if subscription.status_code != 201:
            raise BenchFailure(f"subscription answered {subscription.status_code}")
        return sink_id

    async def wait_completed(
        self,
        operation_ids: list[str],
        *,
        within_s: float,
        on_progress: Callable[[float, int], None] | None = None,
        interval: float = 0.25,
    ) -> list[dict[str, Any]]:
        """Poll until every operation is COMPLETED; their final bodies. `on_progress`
        gets (monotonic time, Messages settled over all of them) at each poll."""
        pending = set(operation_ids)
        done: dict[str, dict[str, Any]] = {}
        deadline = time.monotonic() + within_s
        while True:
            for operation_id in list(pending):
                body = await self.operation(operation_id)
                if body["status"] == "COMPLETED":
                    done[operation_id] = body
                    pending.discard(operation_id)
                elif body["status"] not in ("PROCESSING", "SCHEDULED"):
                    raise BenchFailure(f"{operation_id} is {body['status']}")
                else:
                    done[operation_id] = body
            if on_progress is not None:
                on_progress(time.monotonic(), sum(settled(b) for b in done.values()))
            if not pending:
                return [done[i] for i in operation_ids]
            if time.monotonic() > deadline:
                raise BenchFailure(f"{len(pending)} operations not COMPLETED after {within_s} s")
            await asyncio.sleep(interval)

    async def read_receipts(
        self, finals: list[dict[str, Any]], *, within_s: float = 30, interval: float = 0.05
    ) -> list[dict[str, Any]]:
        """The operations again once every Message is READ: a READ receipt may follow the
        DELIVERED one that COMPLETED the operation, so the checks wait for it (outside the
        timed part)."""
        deadline = time.monotonic() + within_s
        while True:
            fresh = [await self.operation(body["id"]) for body in finals]
            if all(b["stats"]["read"] == b["stats"]["total"] for b in fresh):
                return fresh
            if time.monotonic() > deadline:
                return fresh  # the checks then say what is missing
            await asyncio.sleep(interval)


def settled(operation: dict[str, Any]) -> int:
    stats = operation["stats"]
    return sum(int(stats[status]) for status in SETTLED)
