"""A status-callback receiver on a real socket for large tests: answers every POST 200
and keeps, in order of arrival, each event's id, type and subject (the Message or the
operation), not the bodies: 120,000 events would be over 100 MB of JSON.

Used by the scale-out tests, where every event of tens of thousands of Messages must
reach the sink, at least once, across processes killed under it."""

from __future__ import annotations

import collections
import json
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

__all__ = ["EventSink", "Received"]

MESSAGE_PREFIX = "com.twilio.comms-api.message."
OPERATION_PREFIX = "com.twilio.comms-api.operation."


@dataclass(frozen=True)
class Received:
    """One event as it arrived: `kind` is its type without the prefix (`delivered`,
    `completed`), `subject` the Message's id, or the operation's for its own events."""

    id: str
    kind: str
    subject: str
    attempt: str | None = None  # a Message event's attempt (`downstream_id`), if it has one


class EventSink:
    def __init__(self) -> None:
        self.received: list[Received] = []
        self.batches = 0
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), _handler(self))
        self._server.daemon_threads = True
        self.url = f"http://127.0.0.1:{self._server.server_address[1]}/hook"
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="event sink", daemon=True
        )

    def __enter__(self) -> EventSink:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def take(self, body: bytes) -> None:
        events = [_received(event) for event in json.loads(body)]
        with self._lock:
            self.received += events
            self.batches += 1

    def ids(self) -> set[str]:
        with self._lock:
            return {event.id for event in self.received}

    def repeated(self) -> int:
        """How many deliveries were of an event already delivered."""
        with self._lock:
            return len(self.received) - len({event.id for event in self.received})

    def repeated_changes(self) -> dict[tuple[str, str], int]:
        """The status changes told by more than one event (distinct ids): an attempt's
        status, or a Message's or operation's own, recorded twice. A fallback gives a
        Message a second attempt, whose changes are its own."""
        with self._lock:
            distinct = {event.id: event for event in self.received}.values()
        counted = collections.Counter((e.attempt or e.subject, e.kind) for e in distinct)
        return {change: n for change, n in counted.items() if n > 1}

    def kinds(self) -> dict[str, set[str]]:
        """Each subject's event kinds (`queued`, `sent`…), duplicates merged."""
        found: dict[str, set[str]] = collections.defaultdict(set)
        with self._lock:
            for event in self.received:
                found[event.subject].add(event.kind)
        return found


def _received(event: dict[str, object]) -> Received:
    kind = str(event["type"])
    data = event["data"]
    assert isinstance(data, dict), event
    if kind.startswith(MESSAGE_PREFIX):
        attempt = data.get("downstream_id")
        return Received(
            str(event["id"]),
            kind.removeprefix(MESSAGE_PREFIX),
            data["message_id"],
            None if attempt is None else str(attempt),
        )
    return Received(str(event["id"]), kind.removeprefix(OPERATION_PREFIX), data["operation_id"])


def _handler(sink: EventSink) -> type[BaseHTTPRequestHandler]:
    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # kept-alive connections, as a real receiver has

        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            sink.take(body)
            self.send_response(200)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *_: object) -> None:  # quiet: a thousand batches
            pass

    return Handler
