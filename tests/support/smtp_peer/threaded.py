"""The SMTP peer on an event loop of its own thread, for tests whose server runs in
another thread (tests/support/server.py) and who talk to both synchronously."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Coroutine
from typing import Any, TypeVar

from tests.support.smtp_peer.peer import SmtpPeer

__all__ = ["PeerThread"]

T = TypeVar("T")


class PeerThread:
    def __init__(self, **settings: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True,
                                        name="smtp-peer")  # fmt: skip
        self._thread.start()
        self.peer: SmtpPeer = self.call(SmtpPeer(**settings).start())

    def call(self, coroutine: Coroutine[Any, Any, T], timeout: float = 60) -> T:
        """Run a coroutine on the peer's loop (`deliver_due`, `settle`…)."""
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(timeout)

    def __enter__(self) -> PeerThread:
        return self

    def __exit__(self, *_: object) -> None:
        self.stop()

    def stop(self) -> None:
        self.call(self.peer.stop())
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
