"""A TCP relay between a connector and its HTTP peer that can hold the peer's answers or
lose one, the way a network does: requests always go through (the peer really gets
them); `hold()` keeps every answer back until `release()`; `lose_next()` cuts the
connection as the next answer starts to come back, so the peer took the request and the
connector never hears how it ended."""

from __future__ import annotations

import asyncio
import contextlib
import threading
from collections.abc import Iterator

__all__ = ["AnswerGate", "gate_in_thread"]


class AnswerGate:
    def __init__(self, target_port: int) -> None:
        self._target = target_port
        self._server: asyncio.Server | None = None
        self._flowing = asyncio.Event()
        self._flowing.set()
        self._waiting = asyncio.Event()  # an answer is held
        self._losing = 0
        self.port = 0

    async def start(self) -> AnswerGate:
        self._server = await asyncio.start_server(self._relay, "127.0.0.1", 0)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def stop(self) -> None:
        self._flowing.set()
        if self._server is not None:
            self._server.close()
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 1)

    def hold(self) -> None:
        self._waiting.clear()
        self._flowing.clear()

    async def held(self) -> None:
        """Return once an answer is held back."""
        await self._waiting.wait()

    def release(self) -> None:
        self._flowing.set()

    def lose_next(self) -> None:
        self._losing += 1

    async def _relay(
        self, client_in: asyncio.StreamReader, client_out: asyncio.StreamWriter
    ) -> None:
        try:
            peer_in, peer_out = await asyncio.open_connection("127.0.0.1", self._target)
        except OSError:
            client_out.transport.abort()
            return
        requests = asyncio.create_task(_pipe(client_in, peer_out))
        try:
            while data := await peer_in.read(65536):
                if self._losing:
                    self._losing -= 1
                    break
                if not self._flowing.is_set():
                    self._waiting.set()
                    await self._flowing.wait()
                client_out.write(data)
                await client_out.drain()
        except (ConnectionError, OSError):
            pass
        finally:
            requests.cancel()
            client_out.transport.abort()
            peer_out.transport.abort()


async def _pipe(source: asyncio.StreamReader, sink: asyncio.StreamWriter) -> None:
    with contextlib.suppress(ConnectionError, OSError):
        while data := await source.read(65536):
            sink.write(data)
            await sink.drain()
    sink.transport.abort()


@contextlib.contextmanager
def gate_in_thread(target_port: int) -> Iterator[AnswerGate]:
    """An AnswerGate on an event loop of its own, for a test whose connector runs in a
    server thread; only `lose_next` is for use from other threads."""
    loop = asyncio.new_event_loop()
    thread = threading.Thread(target=loop.run_forever, name="answer gate", daemon=True)
    thread.start()
    gate = asyncio.run_coroutine_threadsafe(AnswerGate(target_port).start(), loop).result(10)
    try:
        yield gate
    finally:
        asyncio.run_coroutine_threadsafe(gate.stop(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
