"""Counts each answered HTTP request by method, route template (`/v1/Messages/{message_id}`:
a bounded set, never the concrete path) and status. An ASGI middleware inside Litestar's
routing, outside authentication, so a refused request (401) counts under its route."""

from __future__ import annotations

from litestar.enums import ScopeType
from litestar.types import ASGIApp, Message, Receive, Scope, Send

from opencomms.metrics.instruments import REQUESTS

__all__ = ["RequestCounter"]


def _status_of(error: BaseException) -> int:
    """The status an exception will be answered with (api/errors.py translates them)."""
    for name in ("status", "status_code"):
        status = getattr(error, name, None)
        if isinstance(status, int):
            return status
    return 500


class RequestCounter:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != ScopeType.HTTP:
            await self.app(scope, receive, send)
            return
        status = 500

        async def noting(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, noting)
        except BaseException as error:
            status = _status_of(error)
            raise
        finally:
            route = scope.get("path_template") or "unmatched"
            REQUESTS.labels(scope.get("method", "GET"), route, str(status)).inc()
