"""The peer's webhook side: the `messages` field payloads Meta posts (statuses, user
messages), their `X-Hub-Signature-256`, and delivery with retries until answered 200.

Bodies are encoded as Meta encodes them: compact JSON with non-ASCII characters escaped
(`\\u00e9`, lowercase hex), and the signature is over those exact bytes, so a receiver
that re-encodes the parsed JSON before checking fails as it would against Meta.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import itertools
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from tests.support.whatsapp_peer.graph import ERRORS

__all__ = ["Attempt", "Deliverer", "Delivery", "encode", "envelope", "sign", "status_item"]

ERROR_HREF = "https://developers.facebook.com/docs/whatsapp/cloud-api/support/error-codes/"


def encode(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":"), ensure_ascii=True).encode()


def sign(secret: str, body: bytes) -> str:
    """The `X-Hub-Signature-256` value: `sha256=` and the hex HMAC-SHA256 of the raw body,
    keyed with the app secret."""
    return "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def envelope(
    waba_id: str, display_phone_number: str, phone_number_id: str, **value: Any
) -> dict[str, Any]:
    """One webhook body: `whatsapp_business_account`, one entry, one `messages` change."""
    metadata = {"display_phone_number": display_phone_number, "phone_number_id": phone_number_id}
    change = {
        "value": {"messaging_product": "whatsapp", "metadata": metadata, **value},
        "field": "messages",
    }
    return {"object": "whatsapp_business_account", "entry": [{"id": waba_id, "changes": [change]}]}


def status_item(
    wamid: str,
    status: str,
    recipient_id: str,
    *,
    callback_data: str | None = None,
    category: str = "service",
    error_code: int | None = None,
) -> dict[str, Any]:
    """One element of `value.statuses`. sent and delivered carry conversation and pricing
    (per-message pricing model), failed carries `errors`, read neither."""
    now = int(time.time())
    item: dict[str, Any] = {
        "id": wamid,
        "status": status,
        "timestamp": str(now),
        "recipient_id": recipient_id,
    }
    if callback_data is not None:
        item["biz_opaque_callback_data"] = callback_data
    if status in {"sent", "delivered"}:
        item["conversation"] = {
            "id": hashlib.md5(recipient_id.encode()).hexdigest(),
            "expiration_timestamp": str(now + 86400),
            "origin": {"type": category},
        }
        item["pricing"] = {
            "billable": category != "service",
            "pricing_model": "PMP",
            "category": category,
            "type": "regular",
        }
    if status == "failed":
        code = error_code or 131000
        _, title, details = ERRORS.get(code, (400, "Error", "Error."))
        item["errors"] = [
            {
                "code": code,
                "title": title,
                "message": title,
                "error_data": {"details": details},
                "href": ERROR_HREF,
            }
        ]
    return item


@dataclass
class Attempt:
    """One POST of a delivery: when, and the receiver's HTTP status or the error."""

    at: float
    status_code: int | None
    error: str | None = None
    answer: bytes = b""


@dataclass
class Delivery:
    """One webhook body and every attempt to post it. `delivered` once answered 200;
    `abandoned` once the retry schedule ran out."""

    id: int
    kind: str
    payload: Any
    body: bytes
    signature: str
    attempts: list[Attempt] = field(default_factory=list)
    delivered: bool = False
    abandoned: bool = False
    retries: bool = True
    then: Callable[[], None] | None = field(default=None, repr=False)
    done: threading.Event = field(default_factory=threading.Event, repr=False)

    @property
    def settled(self) -> bool:
        return self.delivered or self.abandoned


class Deliverer:
    """Posts deliveries from the peer's event loop, at most `concurrency` at once,
    retrying each non-200 answer after the next delay of `retry_delays_s`."""

    def __init__(
        self,
        url: Callable[[], str | None],
        retry_delays_s: tuple[float, ...],
        concurrency: int,
        timeout_s: float,
    ) -> None:
        self._url = url
        self.retry_delays_s = retry_delays_s
        self._timeout = timeout_s
        self._slots = asyncio.Semaphore(concurrency)
        self._client: httpx.AsyncClient | None = None
        self._ids = itertools.count(1)
        self._tasks: set[asyncio.Task[None]] = set()
        self.deliveries: list[Delivery] = []
        self.lock = threading.Lock()

    def new(self, kind: str, payload: Any, body: bytes, signature: str) -> Delivery:
        delivery = Delivery(next(self._ids), kind, payload, body, signature)
        with self.lock:
            self.deliveries.append(delivery)
        return delivery

    def pending(self) -> list[Delivery]:
        with self.lock:
            return [d for d in self.deliveries if not d.settled]

    def schedule(self, delivery: Delivery, delay_s: float = 0.0) -> None:
        """Post `delivery` after `delay_s` (call from the peer's loop)."""
        loop = asyncio.get_running_loop()
        if delay_s <= 0:
            self._spawn(delivery)
        else:
            loop.call_later(delay_s, self._spawn, delivery)

    def _spawn(self, delivery: Delivery) -> None:
        task = asyncio.get_running_loop().create_task(self.attempt(delivery))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def attempt(self, delivery: Delivery) -> None:
        async with self._slots:
            attempt = await self._post(delivery)
        delivery.attempts.append(attempt)
        if (
            attempt.status_code != 200
            and delivery.retries
            and (len(delivery.attempts) <= len(self.retry_delays_s))
        ):
            self.schedule(delivery, self.retry_delays_s[len(delivery.attempts) - 1])
            return
        if delivery.then is not None:  # before settling: the next one is pending first
            delivery.then()
        delivery.delivered = attempt.status_code == 200
        delivery.abandoned = not delivery.delivered
        delivery.done.set()

    async def _post(self, delivery: Delivery) -> Attempt:
        url, at = self._url(), time.time()
        if url is None:
            return Attempt(at, None, "no webhook URL configured")
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout)
        headers = {
            "Content-Type": "application/json",
            "User-Agent": "facebookexternalua",
            "X-Hub-Signature-256": delivery.signature,
        }
        try:
            response = await self._client.post(url, content=delivery.body, headers=headers)
        except httpx.HTTPError as error:
            return Attempt(at, None, f"{type(error).__name__}: {error}")
        return Attempt(at, response.status_code, None, response.content[:1000])

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        if self._client is not None:
            await self._client.aclose()
