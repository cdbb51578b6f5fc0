"""A real opencomms server (uvicorn, real sockets) running in a thread of the test process,
and the two things every server-backed test asks of it: a server on a fresh database of
one backend with some settings sections, and a client for a fresh account."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Coroutine, Iterator
from concurrent.futures import Future
from contextlib import contextmanager
from pathlib import Path
from typing import Any, TypeVar

import httpx
import uvicorn

from opencomms.api.http_limits import BoundedConfig
from opencomms.app import create_app
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.engine.provisioning import provision_account
from opencomms.engine.runtime import Runtime
from opencomms.settings import ServerSettings, Settings
from tests.support.databases import database_url

T = TypeVar("T")

# the tests' webhook receivers listen on loopback
LOOPBACK_NETWORKS = ["127.0.0.0/8", "::1/128"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class ThreadServer:
    def __init__(self, settings: Settings, port: int | None = None) -> None:
        """`port`: one chosen beforehand (a `[server] public_url` naming it), else a free one."""
        self.settings = settings
        self.app = create_app(settings)
        self.runtime: Runtime = self.app.state.runtime
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        config = BoundedConfig(
            self.app,
            settings.http,
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="on",
        )
        self._server = uvicorn.Server(config)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread = threading.Thread(
            target=self._serve, name="opencomms-test-server", daemon=True
        )

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._server.serve())

    def start(self) -> ThreadServer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the test server did not start")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def call(self, coroutine: Coroutine[Any, Any, T]) -> T:
        """Run a coroutine on the server's own event loop (where its runtime lives)."""
        return self.submit(coroutine).result(timeout=30)

    def submit(self, coroutine: Coroutine[Any, Any, T]) -> Future[T]:
        """Start a coroutine on the server's event loop; its future, to wait on later."""
        assert self._loop is not None
        return asyncio.run_coroutine_threadsafe(coroutine, self._loop)

    def new_account(self) -> tuple[str, str]:
        sid, token = new_account_sid(), new_auth_token()
        self.call(
            self.runtime.db.write(
                lambda conn: provision_account(
                    conn,
                    sid=sid,
                    auth_token=token,
                    friendly_name="test",
                    simulator=self.settings.simulator,
                    sealer=self.runtime.sealer,
                    now=now_ms(),
                    configured=self.settings,
                )
            )
        )
        return sid, token


@contextmanager
def running_server(backend: str, directory: Path, **sections: Any) -> Iterator[ThreadServer]:
    """A server on a fresh `backend` database (kept in `directory`), with these settings
    sections (`sinks=SinkSettings(...)`, ...) and defaults for the others; callbacks may go
    to loopback. Stopped on exit."""
    with database_url(backend, str(directory)) as url:
        server = ServerSettings(
            database_url=url,
            secret_key_file=str(directory / "opencomms.key"),
            allowed_callback_networks=LOOPBACK_NETWORKS,
        )
        running = ThreadServer(Settings(server=server, **sections)).start()
        try:
            yield running
        finally:
            running.stop()


@contextmanager
def account_client(
    server: ThreadServer, account: tuple[str, str] | None = None
) -> Iterator[httpx.Client]:
    """An HTTP client on the server's /v1/, authenticated as `account` (sid, token), else
    as a new account (with its default simulator pool)."""
    auth = account or server.new_account()
    with httpx.Client(base_url=server.url + "/v1", auth=auth, timeout=30) as client:
        yield client
