"""An event receiver for the end-to-end run: a separate process that answers 200 at once.

Run as `python -m bench.sink --port P`. `POST /events` takes a CloudEvents batch (a JSON
array) and counts it; `GET /summary` answers what arrived: events, unique ids, counts by
type and by operation, and the time of the last one. It checks nothing itself; the
scenario compares the summary with what it expected.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time
from collections import Counter
from typing import Any

import httpx
import msgspec
import uvicorn

from bench.server import free_port

__all__ = ["Receiver", "SinkProcess", "SinkSummary", "main"]

Scope = dict[str, Any]
Receive = Any
Send = Any


class _Event(msgspec.Struct):
    id: str
    type: str
    data: dict[str, Any]


class SinkSummary(msgspec.Struct):
    events: int
    unique_ids: int
    posts: int
    by_type: dict[str, int]
    by_operation: dict[str, int]
    messages: int  # distinct message ids seen in message events
    last_event_at: float  # time.time() of the last POST; 0 when none came
    malformed: int  # POSTs whose body was not a JSON array of events


_batch = msgspec.json.Decoder(list[_Event])


class Receiver:
    """The ASGI app: counts what it is sent, answers 200 with an empty body."""

    def __init__(self) -> None:
        self.ids: set[str] = set()
        self.messages: set[str] = set()
        self.events = 0
        self.posts = 0
        self.by_type: Counter[str] = Counter()
        self.by_operation: Counter[str] = Counter()
        self.last_event_at = 0.0
        self.malformed = 0

    def record(self, body: bytes) -> None:
        batch = _batch.decode(body)
        self.posts += 1
        self.events += len(batch)
        self.last_event_at = time.time()
        for event in batch:
            self.ids.add(event.id)
            self.by_type[event.type.rsplit(".", 1)[-1]] += 1
            self.by_operation[str(event.data.get("operation_id"))] += 1
            message_id = event.data.get("message_id")
            if message_id:
                self.messages.add(message_id)

    def summary(self) -> SinkSummary:
        return SinkSummary(
            events=self.events,
            unique_ids=len(self.ids),
            posts=self.posts,
            by_type=dict(self.by_type),
            by_operation=dict(self.by_operation),
            messages=len(self.messages),
            last_event_at=self.last_event_at,
            malformed=self.malformed,
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        body = b""
        more = True
        while more:
            message = await receive()
            body += message.get("body", b"")
            more = message.get("more_body", False)
        if scope["method"] == "POST":
            try:
                self.record(body)
            except msgspec.DecodeError:
                self.malformed += 1
                await _answer(send, 400, b"")
                return
            await _answer(send, 200, b"")
        elif scope["path"] == "/summary":
            await _answer(send, 200, msgspec.json.encode(self.summary()))
        else:
            await _answer(send, 404, b"")


async def _answer(send: Send, status: int, body: bytes) -> None:
    headers = [(b"content-type", b"application/json"), (b"content-length", b"%d" % len(body))]
    await send({"type": "http.response.start", "status": status, "headers": headers})
    await send({"type": "http.response.body", "body": body})


class SinkProcess:
    """The receiver in its own process, so it takes no CPU from the server's loop."""

    def __init__(self) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30) -> SinkProcess:
        root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
        env = {
            **os.environ,
            "PYTHONPATH": os.pathsep.join(filter(None, [root, os.environ.get("PYTHONPATH")])),
        }
        self._process = subprocess.Popen(
            [sys.executable, "-m", "bench.sink", "--port", str(self.port)], env=env
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                self.summary()
                return self
            except httpx.TransportError:
                time.sleep(0.05)
        raise RuntimeError("the event receiver did not start")

    def summary(self) -> SinkSummary:
        response = httpx.get(self.url + "/summary", timeout=10)
        return msgspec.json.decode(response.content, type=SinkSummary)

    def stop(self) -> None:
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
            self._process.wait(timeout=30)

    def __enter__(self) -> SinkProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description="benchmark event receiver")
    parser.add_argument("--port", type=int, required=True)
    args = parser.parse_args()
    uvicorn.run(Receiver(), host="127.0.0.1", port=args.port, log_level="warning")


if __name__ == "__main__":
    main()
