"""Status callback receivers that misbehave, on real sockets: an endless body, a trickle,
no answer at all. Each connection is served by its own thread, which records how many
bytes it sent and whether the other side hung up on it."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field

__all__ = ["Connection", "RawReceiver", "endless_body", "no_answer", "trickle"]


@dataclass
class Connection:
    """One connection a receiver served: what it sent, and whether it was hung up on."""

    sent: int = 0
    hung_up: bool = False
    request: bytes = b""
    done: threading.Event = field(default_factory=threading.Event)


Behaviour = Callable[[socket.socket, Connection, threading.Event], None]


class RawReceiver:
    """A TCP server on 127.0.0.1 that reads each request then answers with `behaviour`."""

    def __init__(self, behaviour: Behaviour) -> None:
        self._behaviour = behaviour
        self._listener = socket.create_server(("127.0.0.1", 0))
        self._listener.settimeout(0.2)
        self._stop = threading.Event()
        self.connections: list[Connection] = []
        self.url = f"http://127.0.0.1:{self._listener.getsockname()[1]}/hook"
        self._thread = threading.Thread(target=self._accept, name="raw receiver", daemon=True)

    def __enter__(self) -> RawReceiver:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join(timeout=5)
        self._listener.close()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                sock, _ = self._listener.accept()
            except TimeoutError:
                continue
            connection = Connection()
            self.connections.append(connection)
            threading.Thread(
                target=self._serve, args=(sock, connection), name="raw answer", daemon=True
            ).start()

    def _serve(self, sock: socket.socket, connection: Connection) -> None:
        with sock:
            try:
                connection.request = _read_request(sock)
                self._behaviour(sock, connection, self._stop)
            except OSError:  # reset or broken pipe: the client hung up
                connection.hung_up = True
            finally:
                connection.done.set()


def _read_request(sock: socket.socket) -> bytes:
    data = b""
    while b"\r\n\r\n" not in data:
        chunk = sock.recv(65536)
        if not chunk:
            raise ConnectionResetError
        data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    length = next(
        (int(line.split(b":")[1]) for line in head.lower().split(b"\r\n")
         if line.startswith(b"content-length:")),
        0,
    )  # fmt: skip
    while len(body) < length:
        body += sock.recv(65536)
    return data


def _send(sock: socket.socket, connection: Connection, data: bytes) -> None:
    sock.sendall(data)
    connection.sent += len(data)


def _wait(sock: socket.socket, stop: threading.Event, seconds: float) -> None:
    """Keep the connection open without a word for `seconds` (or until the test ends);
    raise ConnectionResetError as soon as the other side hangs up."""
    deadline = time.monotonic() + seconds
    sock.settimeout(0.05)
    try:
        while not stop.is_set() and time.monotonic() < deadline:
            try:
                if not sock.recv(65536):
                    raise ConnectionResetError
            except TimeoutError:
                continue
    finally:
        sock.settimeout(None)


def endless_body(cap_bytes: int) -> Behaviour:
    """200 OK, then a chunked body as fast as the socket takes it (up to `cap_bytes`,
    after which the connection stays open and silent: a guard for the test machine)."""
    chunk = b"x" * 65536
    framed = b"%x\r\n%s\r\n" % (len(chunk), chunk)

    def behave(sock: socket.socket, connection: Connection, stop: threading.Event) -> None:
        _send(sock, connection, b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n")
        while connection.sent < cap_bytes and not stop.is_set():
            _send(sock, connection, framed)
        _wait(sock, stop, 120)

    return behave


def trickle(head: bytes, *, every_s: float, then: bytes = b"") -> Behaviour:
    """Send `head` at once, then `then` one byte every `every_s` seconds."""

    def behave(sock: socket.socket, connection: Connection, stop: threading.Event) -> None:
        _send(sock, connection, head)
        for byte in then:
            _wait(sock, stop, every_s)
            if stop.is_set():
                return
            _send(sock, connection, bytes([byte]))

    return behave


def no_answer(sock: socket.socket, connection: Connection, stop: threading.Event) -> None:
    """Read the request, then say nothing."""
    _wait(sock, stop, 120)
