"""The operations: a list with live progress bars (server-sent events), and one
operation's funnel, delivery per channel, errors by code and settling over time."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import msgspec
from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import ServerSentEvent, ServerSentEventMessage

from opencomms.console import figures
from opencomms.console.charts import HEIGHT, WIDTH, column_chart
from opencomms.console.internal_api import NotFound, api_json
from opencomms.console.render import page
from opencomms.console.session import Session, session_of
from opencomms.domain.clock import parse_iso_ms
from opencomms.domain.ids import OPERATION_ID_RE
from opencomms.engine.runtime import Runtime

__all__ = ["operation_page", "operations_page", "progress_stream"]

AnyRequest = Request[Any, Any, Any]
LISTED = 50
POLL_SECONDS = 0.5
STREAM_SECONDS = 600.0
# each stage counts the Messages that got at least that far (a read one was delivered)
FUNNEL = (
    ("recipients", ("recipients",)),
    ("Messages", ("total",)),
    ("handed to a channel", ("sent", "delivered", "read", "undelivered")),
    ("delivered", ("delivered", "read")),
    ("read", ("read",)),
)


def _runtime(request: AnyRequest) -> Runtime:
    runtime: Runtime = request.app.state.runtime
    return runtime


@get("/")
async def operations_page(request: AnyRequest) -> Response[Any]:
    session = session_of(request)
    rows = await _runtime(request).db.read(
        lambda conn: figures.recent_progress(conn, session.account_sid, LISTED)
    )
    return page("operations.html", title="Operations", session=session, operations=rows)


def _progress_event(rows: list[figures.Progress]) -> ServerSentEventMessage:
    data = [{"id": r.id, "percent": r.percent, "settled": r.settled, "total": r.total,
             "status": r.status} for r in rows]  # fmt: skip
    return ServerSentEventMessage(data=msgspec.json.encode(data).decode(), event="progress")


async def _progress(request: AnyRequest, session: Session, ids: list[str]) -> AsyncIterator[Any]:
    """The operations' progress every POLL_SECONDS until all are done (or a while)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + STREAM_SECONDS
    while loop.time() < deadline:
        rows = await _runtime(request).db.read(
            lambda conn: figures.progress_of(conn, session.account_sid, ids)
        )
        yield _progress_event(rows)
        if all(row.percent == 100 for row in rows):
            yield ServerSentEventMessage(data="done", event="done")
            return
        await asyncio.sleep(POLL_SECONDS)


@get("/operations/progress")
async def progress_stream(request: AnyRequest) -> ServerSentEvent:
    session = session_of(request)
    ids = [i for i in request.query_params.getall("id", []) if OPERATION_ID_RE.match(i)][:LISTED]
    return ServerSentEvent(_progress(request, session, ids))


async def _figures(request: AnyRequest, session: Session, operation: dict[str, Any]) -> Any:
    start = parse_iso_ms(operation["createdAt"]) or 0
    end = max(start + 1000, parse_iso_ms(operation["updatedAt"]) or start)
    account, op_id = session.account_sid, operation["id"]

    async def load(conn: Any) -> Any:
        shares = await figures.channel_shares(conn, account, op_id)
        over_time = await figures.settled_over_time(conn, account, op_id, start, end)
        progress = await figures.progress_of(conn, account, [op_id])
        return shares, over_time, progress

    return await _runtime(request).db.read(load)


@get("/operations/{operation_id:str}")
async def operation_page(request: AnyRequest, operation_id: FromPath[str]) -> Response[Any]:
    session = session_of(request)
    if not OPERATION_ID_RE.match(operation_id):
        raise NotFound(operation_id)
    path = f"/Messages/Operations/{operation_id}"
    operation = await api_json(request, session, path)
    errors = (await api_json(request, session, f"{path}/Errors", pageSize=50))["errors"]
    shares, over_time, progress = await _figures(request, session, operation)
    stats = operation["stats"]
    return page(
        "operation.html",
        title=f"Operation {operation_id}",
        session=session,
        operation=operation,
        progress=progress[0] if progress else None,
        funnel=[(name, sum(stats[c] for c in columns)) for name, columns in FUNNEL],
        funnel_top=max(1, stats["recipients"]),
        failures=[
            (n, stats[n])
            for n in ("scheduled", "queued", "unaddressable", "undelivered", "failed", "canceled")
        ],
        shares=shares,
        reached=sum(share.first + share.fallback for share in shares),
        errors=errors,
        bars=column_chart(over_time),
        chart_width=WIDTH,
        chart_height=HEIGHT,
    )
