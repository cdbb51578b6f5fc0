"""Hosting connectors' webhooks without the whole server: the real `/webhooks/{name}`
route (api/provider_webhooks.py) on a real HTTP server on 127.0.0.1, for the connectors
given, in the caller's event loop (where those connectors run).

    async with hosting_webhooks({"rcs": connector}) as base_url:
        ...  # a peer calls f"{base_url}/webhooks/rcs"

The server is the one `serve` runs (uvicorn with the bounded protocol, the same body
limit and error bodies); no database, no engine: what the connector's handlers do with a
report is the caller's.
"""

from __future__ import annotations

import asyncio
import contextlib
import socket
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager

import uvicorn
from litestar import Litestar
from litestar.datastructures import State

from opencomms.api.errors import exception_handlers
from opencomms.api.http_limits import BoundedConfig
from opencomms.api.provider_webhooks import STATE_KEY, ProviderWebhooks, provider_webhook
from opencomms.settings import HttpSettings

__all__ = ["hosting_webhooks", "webhook_app"]


def webhook_app(
    connectors: Mapping[str, object], *, public_url: str = "", limits: HttpSettings | None = None
) -> Litestar:
    """An app with only the provider webhook route, for these connectors."""
    hosted = ProviderWebhooks(connectors=dict(connectors), public_url=public_url)
    return Litestar(
        route_handlers=[provider_webhook],
        exception_handlers=exception_handlers,
        state=State({STATE_KEY: hosted}),
        request_max_body_size=(limits or HttpSettings()).max_body_bytes,
        openapi_config=None,
        debug=False,
    )


class _QuietServer(uvicorn.Server):
    """A server that leaves the test process's signals alone (Ctrl-C stops the tests)."""

    def capture_signals(self) -> contextlib.AbstractContextManager[None]:  # type: ignore[override]
        return contextlib.nullcontext()


@asynccontextmanager
async def hosting_webhooks(
    connectors: Mapping[str, object], *, public_url: str = "", limits: HttpSettings | None = None
) -> AsyncIterator[str]:
    """Serve `/webhooks/{name}` for `connectors` on an ephemeral port of 127.0.0.1; the
    base URL (`http://127.0.0.1:PORT`) while inside. `public_url`: what the connectors
    are told the provider called (as `[server] public_url` does), else the request's URL."""
    limits = limits or HttpSettings()
    app = webhook_app(connectors, public_url=public_url, limits=limits)
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = BoundedConfig(app, limits, log_level="warning", lifespan="off")
    server = _QuietServer(config)
    task = asyncio.create_task(server.serve(sockets=[sock]))
    try:
        while not server.started:
            if task.done():
                task.result()  # raises what stopped it
                raise RuntimeError("the webhook host stopped before it started")
            await asyncio.sleep(0.01)
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task
        sock.close()
