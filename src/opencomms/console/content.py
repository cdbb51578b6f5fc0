"""Content templates (Twilio's Content resources), read only here."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from opencomms.console.internal_api import api_json
from opencomms.console.render import page
from opencomms.console.session import session_of

__all__ = ["content_page"]

AnyRequest = Request[Any, Any, Any]


@get("/content")
async def content_page(request: AnyRequest) -> Response[Any]:
    session = session_of(request)
    contents = (await api_json(request, session, "/Content", PageSize=100))["contents"]
    return page("content.html", title="Content templates", session=session, contents=contents)
