"""Messages: search by address, Message id or attempt id; one Message with its attempts
as a timeline."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get
from litestar.params import FromPath
from litestar.response import Redirect

from opencomms.console.internal_api import NotFound, api_call, api_json
from opencomms.console.render import page
from opencomms.console.session import session_of
from opencomms.domain.ids import MESSAGE_ID_RE

__all__ = ["message_page", "messages_page"]

AnyRequest = Request[Any, Any, Any]
LISTED = 50


@get("/messages")
async def messages_page(request: AnyRequest) -> Response[Any]:
    """Recent Messages; `q` a Message id or an attempt id (SM…/MM…) opens that Message,
    anything else is an address a Message was sent to."""
    session = session_of(request)
    query = (request.query_params.get("q") or "").strip()
    if MESSAGE_ID_RE.match(query):
        return Redirect(f"/messages/{query}")
    if query[:2] in ("SM", "MM") and query.isalnum():
        try:
            seek = await api_call(request, session, "GET", f"/Messages/Seek/{query}")
        except NotFound:
            seek = None
        if seek is not None:
            return Redirect("/messages/" + seek.headers["location"].rsplit("/", 1)[-1])
    found = await api_json(request, session, "/Messages", address=query, pageSize=LISTED)
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
