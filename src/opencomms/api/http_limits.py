"""Inbound HTTP, bounded: how long a request may take to arrive, how large its head may
be, and how many connections one client and all clients together may hold.

uvicorn's httptools protocol enforces none of these: a connection that sends one header
byte a second, or a body that never ends, is held forever, and a header may be of any
size. So the server runs the subclass below. Its answers are written straight to the
socket, before the app is involved, in the contract's error body:

- 408 when a request's line and headers take longer than `[http] header_timeout` (from
  the connection's opening, or from the request's first byte on a kept-alive one), or
  its body longer than `body_timeout` (from the end of its headers);
- 431 when its line and headers exceed `max_header_bytes`;
- 429 to a client that already holds `max_connections_per_client` connections, 503 when
  `max_connections` are open; both with `Retry-After`.

After such an answer the connection stops taking requests: writing is shut down and what
the client still sends is read and dropped for a moment (a "lingering close"), so that a
client still writing its request reads the answer rather than a reset. Body sizes are
the app's concern, per route (app.py).
"""

from __future__ import annotations

import asyncio
import ipaddress
import logging
from collections import Counter
from dataclasses import dataclass
from typing import Any

import uvicorn
from uvicorn.protocols.http.httptools_impl import STATUS_LINE, HttpToolsProtocol
from uvicorn.server import ServerState

from opencomms.api.errors import ApiError, FieldError, invalid
from opencomms.settings import HttpSettings

__all__ = ["BoundedConfig", "BoundedHttpProtocol", "ConnectionGate", "Refusal"]

log = logging.getLogger(__name__)

LINGER_SECONDS = 2.0  # how long a closing connection's late input is read and dropped
RETRY_AFTER_SECONDS = 1


@dataclass(frozen=True)
class Refusal:
    status: int
    message: str


class ConnectionGate:
    """The connections open at once, in total and per client: who may open one more."""

    def __init__(self, limits: HttpSettings) -> None:
        self.max_total = limits.max_connections
        self.max_per_client = limits.max_connections_per_client
        self.trusted = limits.proxy_networks()
        self.total = 0
        self.by_client: Counter[str] = Counter()

    def client_of(self, host: str | None) -> str | None:
        """What a peer is counted under per client: its address, or the /64 of an IPv6
        one (a single host commonly holds a whole /64). None for a trusted proxy, which
        speaks for many clients, and for a peer with no address (a Unix socket)."""
        if host is None:
            return None
        try:
            address = ipaddress.ip_address(host)
        except ValueError:
            return host
        if isinstance(address, ipaddress.IPv6Address) and address.ipv4_mapped:
            address = address.ipv4_mapped
        if any(address.version == net.version and address in net for net in self.trusted):
            return None
        if address.version == 6:
            return str(ipaddress.ip_network((address, 64), strict=False))
        return str(address)

    def enter(self, client: str | None) -> Refusal | None:
        """Count one more connection of `client`, or say why it is refused."""
        if client is not None and self.by_client[client] >= self.max_per_client:
            return Refusal(
                429,
                f"Too many connections from this client: at most {self.max_per_client}"
                " at once. Retry after closing one.",
            )
        if self.total >= self.max_total:
            return Refusal(503, f"The server holds its maximum of {self.max_total} connections.")
        self.total += 1
        if client is not None:
            self.by_client[client] += 1
        return None

    def leave(self, client: str | None) -> None:
        self.total -= 1
        if client is not None:
            self.by_client[client] -= 1
            if not self.by_client[client]:
                del self.by_client[client]


class BoundedConfig(uvicorn.Config):
    """uvicorn's configuration, serving with BoundedHttpProtocol under `limits`.

    Forwarded headers (X-Forwarded-For, X-Forwarded-Proto) are believed only from the
    `trusted_proxies`; with none, they are ignored (uvicorn would trust loopback).
    """

    def __init__(self, app: Any, limits: HttpSettings, **options: Any) -> None:
        proxies = [str(network) for network in limits.proxy_networks()]
        super().__init__(
            app,
            http=BoundedHttpProtocol,
            ws="none",
            proxy_headers=bool(proxies),
            forwarded_allow_ips=proxies,
            **options,
        )
        self.limits = limits
        self.gate = ConnectionGate(limits)
        self.header_timeout = limits.seconds("header_timeout")
        self.body_timeout = limits.seconds("body_timeout")


class _HeadTooLarge(Exception):
    """Raised in a parser callback to stop parsing a head over the limit."""


class BoundedHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol with deadlines, a head size cap and the gate."""

    def __init__(
        self,
        config: uvicorn.Config,
        server_state: ServerState,
        app_state: dict[str, Any],
        _loop: asyncio.AbstractEventLoop | None = None,
    ) -> None:
        super().__init__(config, server_state, app_state, _loop)
        assert isinstance(config, BoundedConfig)
        self.bounds = config
        self.peer: str | None = None  # what the gate counts this connection under
        self.admitted = False
        self.deadline: asyncio.TimerHandle | None = None
        self.reading_head = True  # the bytes that come next belong to a request's head
        self.raw_head_bytes = 0  # received while the head is incomplete
        self.head_bytes = 0  # parsed: request line and header fields
        self.head_too_large = False
        self.answered = False  # our own answer is written: the rest is dropped

    # the connection

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.peer = self.bounds.gate.client_of(self.client[0] if self.client else None)
        refusal = self.bounds.gate.enter(self.peer)
        if refusal is not None:
            log.info("refused a connection from %s: %s", self.peer, refusal.message)
            self._answer(ApiError(refusal.status, refusal.message))
            return
        self.admitted = True
        self._arm(self.bounds.header_timeout, "headers")

    def connection_lost(self, exc: Exception | None) -> None:
        self._disarm()
        if self.admitted:
            self.admitted = False
            self.bounds.gate.leave(self.peer)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        if self.answered:
            return
        in_head = self.reading_head
        if in_head:
            self.raw_head_bytes += len(data)
        super().data_received(data)
        # a head still incomplete holds what it received so far: that is bounded too
        too_much = self.raw_head_bytes > self.bounds.limits.max_header_bytes
        if in_head and self.reading_head and too_much and not self.answered:
            self._answer_head_too_large()

    def send_400_response(self, msg: str) -> None:
        """uvicorn's answer to what httptools cannot parse, in the contract's body (a
        head stopped by `_count_head` for its size gets here too)."""
        if self.head_too_large:
            self._answer_head_too_large()
        else:
            self._answer(invalid([FieldError("request", "is not valid HTTP/1.1")]))

    # parser callbacks

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self.head_bytes = 0
        if self.deadline is None:  # a kept-alive connection's next request
            self._arm(self.bounds.header_timeout, "headers")

    def on_url(self, url: bytes) -> None:
        self._count_head(len(url))
        super().on_url(url)

    def on_header(self, name: bytes, value: bytes) -> None:
        self._count_head(len(name) + len(value) + 4)  # ": " and CRLF
        super().on_header(name, value)

    def on_headers_complete(self) -> None:
        self.reading_head = False
        self._arm(self.bounds.body_timeout, "body")
        super().on_headers_complete()

    def on_message_complete(self) -> None:
        super().on_message_complete()
        self._disarm()
        self.reading_head = True
        self.raw_head_bytes = 0

    # limits

    def _count_head(self, size: int) -> None:
        self.head_bytes += size
        if self.head_bytes > self.bounds.limits.max_header_bytes:
            self.head_too_large = True
            raise _HeadTooLarge

    def _answer_head_too_large(self) -> None:
        limit = self.bounds.limits.max_header_bytes
        self._answer(ApiError(431, f"The request line and headers exceed {limit} bytes."))

    def _arm(self, seconds: float, phase: str) -> None:
        self._disarm()
        self.deadline = self.loop.call_later(seconds, self._timed_out, phase)

    def _disarm(self) -> None:
        if self.deadline is not None:
            self.deadline.cancel()
            self.deadline = None

    def _timed_out(self, phase: str) -> None:
        """408, unless an answer to this request has begun: then the connection is cut."""
        self.deadline = None
        cycle = self.cycle
        busy = cycle is not None and not cycle.response_complete
        if cycle is not None and busy:
            cycle.disconnected = True  # the app's receive() ends; what it sends is dropped
            cycle.message_event.set()
        if phase == "headers":
            answering = busy  # a pipelined request before this one is being answered
            limit = self.bounds.limits.header_timeout
        else:
            answering = cycle is not None and cycle.response_started
            limit = self.bounds.limits.body_timeout
        log.info("cut a connection from %s: its request's %s took over %s", self.peer, phase, limit)
        if answering:
            self.transport.close()
        else:
            self._answer(ApiError(408, f"The request's {phase} did not arrive within {limit}."))

    def _answer(self, error: ApiError) -> None:
        """Write the contract's error answer, then close the connection (lingering)."""
        self.answered = True
        self._disarm()
        body = error.body()
        head = [STATUS_LINE[error.status]]
        for name, value in self.server_state.default_headers:
            head += [name, b": ", value, b"\r\n"]
        head.append(b"content-type: application/json\r\n")
        head.append(b"content-length: %d\r\n" % len(body))
        if error.status in (429, 503):
            head.append(b"retry-after: %d\r\n" % RETRY_AFTER_SECONDS)
        head.append(b"connection: close\r\n\r\n")
        self.transport.write(b"".join(head) + body)
        if self.transport.can_write_eof():
            self.transport.write_eof()
        self.flow.resume_reading()
        self.deadline = self.loop.call_later(LINGER_SECONDS, self.transport.close)
