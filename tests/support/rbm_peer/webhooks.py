"""The RBM peer's webhook side: events as Google's Pub/Sub push delivers them.

Each event (a UserEvent, UserMessage or ServerEvent JSON) is base64-encoded into
`{"message": {"data", "messageId", "publishTime", ...}, "subscription"}` and POSTed to
the webhook with `X-Goog-Signature` = base64(HMAC-SHA512(clientToken, decoded data)), the
rule of Google's webhook guide. An answer other than 102/200/201/202/204 (Pub/Sub's
acknowledgements), or no answer, is retried with exponential backoff between
`min_backoff` and `max_backoff` for `retry_for` seconds. Pushes go out from `workers`
concurrent tasks, so their order is not guaranteed, as with Pub/Sub; a batch (a list of
events published together with `ordered=True`) is pushed in order by one task.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import itertools
import json
import secrets
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx

from tests.support.rbm_peer.link import HttpLink
from tests.support.rbm_peer.records import Push, Records

__all__ = ["ACKS", "Pusher", "now_rfc3339", "sign"]

ACKS = {102, 200, 201, 202, 204}
FORGED, UNSIGNED = "forged", "unsigned"


def now_rfc3339(moment: float | None = None) -> str:
    stamp = datetime.fromtimestamp(time.time() if moment is None else moment, UTC)
    return stamp.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def sign(client_token: str, data: bytes) -> str:
    """The X-Goog-Signature of an event's decoded `data`."""
    digest = hmac.new(client_token.encode(), data, hashlib.sha512).digest()
    return base64.b64encode(digest).decode()


@dataclass
class _Item:
    pubsub_id: str
    event: dict[str, Any]
    data: bytes
    signing: str = ""  # "", FORGED (signed with another token) or UNSIGNED (no header)
    tries: int = 0
    first_at: float = field(default_factory=time.monotonic)


class Pusher:
    """Pushes events to `url` from tasks on the peer's event loop; records each attempt."""

    def __init__(
        self,
        records: Records,
        lock: threading.RLock,
        subscription: str,
        min_backoff: float,
        max_backoff: float,
        retry_for: float,
        timeout: float,
        workers: int,
    ) -> None:
        self.records = records
        self.lock = lock
        self.subscription = subscription
        self.client_token = secrets.token_urlsafe(12)
        self.url: str | None = None
        self.copies = 1  # each event is pushed this many times (duplicates)
        self.holding = False
        self._held: list[list[_Item]] = []
        self._backoff = (min_backoff, max_backoff)
        self._retry_for = retry_for
        self._timeout = timeout
        self._workers = workers
        self._ids = itertools.count(secrets.randbelow(10**15) + 10**15)
        self._queue: asyncio.Queue[list[_Item]] = asyncio.Queue()
        self._url_set = asyncio.Event()
        self._tasks: list[asyncio.Task[None]] = []
        self._client: httpx.AsyncClient | None = None
        self._links: list[HttpLink] = []
        self.pending = 0  # pushes not yet acknowledged nor abandoned

    async def start(self) -> None:
        limits = httpx.Limits(max_connections=self._workers)
        self._client = httpx.AsyncClient(timeout=self._timeout, limits=limits)
        self._tasks = [
            asyncio.create_task(self._work(), name=f"rbm peer push {n}")
            for n in range(self._workers)
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for link in self._links:
            link.close()
        if self._client is not None:
            await self._client.aclose()

    def set_url(self, url: str | None) -> None:
        self.url = url
        if url:
            self._url_set.set()
        else:
            self._url_set.clear()

    def publish(
        self, events: list[dict[str, Any]], ordered: bool = False, signing: str = ""
    ) -> list[_Item]:
        """Queue `events` (on the loop); with `ordered`, one task pushes them in order."""
        items = [self._item(event, signing) for event in events]
        batches = [items] if ordered else [[item] for item in items]
        for _ in range(self.copies):
            for batch in batches:
                self._enqueue(list(batch))
        return items

    def publish_raw(self, data: bytes, signing: str = "") -> None:
        """Queue an arbitrary `data` payload (not necessarily JSON) as one event."""
        item = _Item(str(next(self._ids)), {"raw": data.decode(errors="replace")}, data, signing)
        self._enqueue([item])

    def _item(self, event: dict[str, Any], signing: str) -> _Item:
        data = json.dumps(event).encode()
        return _Item(str(next(self._ids)), event, data, signing)

    def _enqueue(self, batch: list[_Item]) -> None:
        self.pending += len(batch)
        if self.holding:
            self._held.append(batch)
        else:
            self._queue.put_nowait(batch)

    def release(self, reverse: bool = False) -> int:
        """Queue the held events (in reverse order when asked) as one ordered batch."""
        held, self._held, self.holding = self._held, [], False
        items = [item for batch in held for item in batch]
        if reverse:
            items.reverse()
        if items:
            self._queue.put_nowait(items)
        return len(items)

    async def _work(self) -> None:
        while True:
            batch = await self._queue.get()
            for item in batch:
                await self._url_set.wait()
                await self.push(item)

    async def push(self, item: _Item) -> bool:
        """One attempt; a refused or failed push is scheduled again with backoff."""
        acked = await self._attempt(item)
        if acked:
            self.pending -= 1
        elif time.monotonic() - item.first_at > self._retry_for:
            self.pending -= 1  # Pub/Sub gives up at the end of the retention period
        else:
            low, high = self._backoff
            delay = min(high, low * 2 ** (item.tries - 1))
            asyncio.get_running_loop().call_later(delay, self._queue.put_nowait, [item])
        return acked

    def _headers(self, item: _Item) -> dict[str, str]:
        if item.signing == UNSIGNED:
            return {}
        token = self.client_token if item.signing != FORGED else "not-" + self.client_token
        return {"X-Goog-Signature": sign(token, item.data)}

    def envelope(self, item: _Item) -> dict[str, Any]:
        published = now_rfc3339()
        message = {
            "data": base64.b64encode(item.data).decode(),
            "messageId": item.pubsub_id,
            "message_id": item.pubsub_id,
            "publishTime": published,
            "publish_time": published,
        }
        return {"message": message, "subscription": self.subscription}

    async def _attempt(self, item: _Item) -> bool:
        assert self.url is not None
        item.tries += 1
        body = json.dumps(self.envelope(item)).encode()
        try:
            status, answer = await self._post(self.url, body, self._headers(item))
            push = Push(item.pubsub_id, item.event, status, None, answer[:200])
        except Exception as failure:  # any failure to push is retried, as Pub/Sub does
            push = Push(item.pubsub_id, item.event, None, f"{type(failure).__name__}: {failure}")
        with self.lock:
            self.records.pushes.append(push)
        return push.status in ACKS

    async def _post(self, url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
        """POST on a free keep-alive link (httpx for anything but http://)."""
        if not url.startswith("http://"):
            assert self._client is not None
            headers = {"Content-Type": "application/json", **headers}
            answer = await self._client.post(url, content=body, headers=headers)
            return answer.status_code, answer.text
        link = self._links.pop() if self._links else HttpLink()
        try:
            status, content = await link.post(url, body, headers, self._timeout)
        finally:
            self._links.append(link)
        return status, content.decode(errors="replace")

    async def push_now(self, events: list[dict[str, Any]]) -> None:
        """Push `events` in order from the caller's task (the first attempt before it
        returns); queued instead while held or while no webhook is set."""
        items = [self._item(event, "") for event in events]
        for _ in range(self.copies - 1):
            self._enqueue(list(items))
        if self.holding or self.url is None:
            self._enqueue(items)
            return
        self.pending += len(items)
        for item in items:
            await self.push(item)

    async def handshake(self, url: str, secret: str, client_token: str) -> tuple[int | None, str]:
        """POST the webhook registration `{clientToken, secret}`; the answer."""
        assert self._client is not None
        try:
            answer = await self._client.post(
                url, json={"clientToken": client_token, "secret": secret}
            )
        except httpx.HTTPError as failure:
            return None, f"{type(failure).__name__}: {failure}"
        return answer.status_code, answer.text
