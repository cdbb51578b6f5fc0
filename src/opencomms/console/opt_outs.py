"""Opt-outs: the list, one added, one removed (through the API's /OptOuts)."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from litestar import Request, Response, get, post
from litestar.response import Redirect

from opencomms.console.forms import signed_form
from opencomms.console.internal_api import ApiFailure, api_call, api_json
from opencomms.console.render import page
from opencomms.console.session import Session, session_of

__all__ = ["add_opt_out", "opt_outs_page", "remove_opt_out"]

AnyRequest = Request[Any, Any, Any]


async def _page(
    request: AnyRequest, session: Session, problems: list[str], address: str = ""
) -> Response[Any]:
    listed = (await api_json(request, session, "/OptOuts", pageSize=200))["optOuts"]
    return page(
        "opt_outs.html",
        status=400 if problems else 200,
        title="Opt-outs",
        session=session,
        opt_outs=listed,
        problems=problems,
        address=address,
    )


@get("/opt-outs")
async def opt_outs_page(request: AnyRequest) -> Response[Any]:
    return await _page(request, session_of(request), [])


@post("/opt-outs")
async def add_opt_out(request: AnyRequest) -> Response[Any]:
    session, form = await signed_form(request)
    body: dict[str, str] = {"address": form.get("address", "").strip()}
    if form.get("channel"):
        body["channel"] = form["channel"]
    try:
        await api_call(request, session, "POST", "/OptOuts", json=body)
    except ApiFailure as failure:
        return await _page(request, session, failure.problems, body["address"])
    return Redirect("/opt-outs")


@post("/opt-outs/remove")
async def remove_opt_out(request: AnyRequest) -> Response[Any]:
    session, form = await signed_form(request)
    address = quote(form.get("address", ""), safe="")
    await api_call(request, session, "DELETE", f"/OptOuts/{address}")
    return Redirect("/opt-outs")
