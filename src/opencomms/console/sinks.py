"""Event sinks: their recent deliveries and failures, and a replay of past events."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from litestar import Request, Response, get, post
from litestar.params import FromPath
from litestar.response import Redirect

from opencomms.console.forms import signed_form
from opencomms.console.internal_api import NotFound, api_call, api_json
from opencomms.console.render import page
from opencomms.console.session import session_of
from opencomms.domain.clock import parse_iso_ms
from opencomms.domain.ids import SINK_ID_RE

__all__ = ["replay", "sink_page", "sinks_page"]

AnyRequest = Request[Any, Any, Any]
# a delivery's replay resends the events made in the hour before it was attempted
REPLAY_WINDOW = timedelta(hours=1)


def _valid_id(sink_id: str) -> str:
    if not SINK_ID_RE.match(sink_id):
        raise NotFound(sink_id)
    return sink_id


@get("/sinks")
async def sinks_page(request: AnyRequest) -> Response[Any]:
    session = session_of(request)
    listed = (await api_json(request, session, "/Sinks", pageSize=100))["sinks"]
    return page("sinks.html", title="Event sinks", session=session, sinks=listed)


@get("/sinks/{sink_id:str}")
async def sink_page(request: AnyRequest, sink_id: FromPath[str]) -> Response[Any]:
    session = session_of(request)
    path = f"/Sinks/{_valid_id(sink_id)}"
    sink = await api_json(request, session, path)
    deliveries = await api_json(request, session, f"{path}/Deliveries")
    return page(
        "sink.html",
        title=f"Sink {sink_id}",
        session=session,
        sink=sink,
        deliveries=deliveries,
        replayed=request.query_params.get("replayed"),
    )


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


@post("/sinks/{sink_id:str}/replay")
async def replay(request: AnyRequest, sink_id: FromPath[str]) -> Response[Any]:
    """POST /v1/Sinks/{id}/Replay for the hour before `until` (a delivery's attempt
    time; now when absent): those events are sent again with their original ids."""
    session, form = await signed_form(request)
    path = f"/Sinks/{_valid_id(sink_id)}"
    until_ms = parse_iso_ms(form.get("until", ""))
    until = (
        datetime.fromtimestamp(until_ms / 1000 + 0.001, UTC)
        if until_ms is not None
        else datetime.now(UTC)
    )
    body = {"startDate": _iso(until - REPLAY_WINDOW), "endDate": _iso(until)}
    await api_call(request, session, "POST", f"{path}/Replay", json=body)
    return Redirect(f"/sinks/{sink_id}?replayed={body['startDate']}")
