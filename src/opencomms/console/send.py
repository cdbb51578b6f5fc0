"""A form to send a test message; its operation page then shows it settle live."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get, post
from litestar.response import Redirect

from opencomms.console.forms import signed_form
from opencomms.console.internal_api import ApiFailure, api_call
from opencomms.console.render import page
from opencomms.console.session import Session, session_of

__all__ = ["send_form", "send_message"]

AnyRequest = Request[Any, Any, Any]


def _form(session: Session, values: dict[str, str], problems: list[str]) -> Response[Any]:
    return page(
        "send.html",
        status=400 if problems else 200,
        title="Send a test message",
        session=session,
        values=values,
        problems=problems,
    )


@get("/send")
async def send_form(request: AnyRequest) -> Response[Any]:
    return _form(session_of(request), {"to": "", "text": "", "send_at": ""}, [])


@post("/send")
async def send_message(request: AnyRequest) -> Response[Any]:
    """POST /v1/Messages with one recipient; then the operation's page."""
    session, form = await signed_form(request)
    values = {name: form.get(name, "").strip() for name in ("to", "text", "send_at")}
    channel = "EMAIL" if "@" in values["to"] else "PHONE"
    to = {"address": values["to"], "channel": channel}
    body: dict[str, Any] = {"to": [to], "content": {"text": values["text"]}}
    if values["send_at"]:
        body["schedule"] = {"sendAt": [values["send_at"]]}
    try:
        response = await api_call(request, session, "POST", "/Messages", json=body)
    except ApiFailure as failure:
        return _form(session, values, failure.problems)
    return Redirect(f"/operations/{response.json()['operationId']}")
