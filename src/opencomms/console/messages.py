"""Messages: search by address, Message id or attempt id; one Message with its attempts
as a timeline."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from opencomms.console.internal_api import NotFound, api_call, api_json
from opencomms.console.render import page
from opencomms.console.session import Session, session_of
from opencomms.domain.ids import MESSAGE_ID_RE, OPERATION_ID_RE

__all__ = ["message_page", "messages_page"]

AnyRequest = Request[Any, Any, Any]
LISTED = 50


def _open(request: AnyRequest, message_id: str) -> Response[Any]:
    """To the Message's page: a redirect, or htmx's own for a search htmx sent."""
    path = f"/messages/{message_id}"
    if request.headers.get("hx-request"):
        return Response("", headers={"HX-Redirect": path})
    return Redirect(path)


async def _attempt_message(request: AnyRequest, session: Session, attempt_id: str) -> str | None:
    try:
        seek = await api_call(request, session, "GET", f"/Messages/Seek/{attempt_id}")
    except NotFound:
        return None
    return str(seek.headers["location"]).rsplit("/", 1)[-1]


@get("/messages")
async def messages_page(request: AnyRequest) -> Response[Any]:
    """Recent Messages (of one operation with `operation`); `q` a Message id or an
    attempt id (SM…/MM…) opens that Message, anything else is an address a Message was
    attempted to."""
    session = session_of(request)
    query = (request.query_params.get("q") or "").strip()
    operation = request.query_params.get("operation") or ""
    if MESSAGE_ID_RE.match(query):
        return _open(request, query)
    if query[:2] in ("SM", "MM") and query.isalnum():
        message_id = await _attempt_message(request, session, query)
        if message_id is not None:
            return _open(request, message_id)
    found = await api_json(
        request,
        session,
        "/Messages",
        address=query,
        operationId=operation if OPERATION_ID_RE.match(operation) else None,
        pageSize=LISTED,
    )
    return page(
        "messages.html", title="Messages", session=session, q=query, messages=found["messages"]
    )


@get("/messages/{message_id:str}")
async def message_page(request: AnyRequest, message_id: FromPath[str]) -> Response[Any]:
    session = session_of(request)
    if not MESSAGE_ID_RE.match(message_id):
        raise NotFound(message_id)
    message = await api_json(request, session, f"/Messages/{message_id}")
    operation = message["related"][0]["id"]
    return page(
        "message.html",
        title=f"Message {message_id}",
        session=session,
        message=message,
        operation=operation,
    )
