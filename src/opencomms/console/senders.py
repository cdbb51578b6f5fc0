"""Senders and sender pools (read only here: the API manages them)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from opencomms.console.internal_api import api_json
from opencomms.console.render import page
from opencomms.console.session import session_of

__all__ = ["senders_page"]

AnyRequest = Request[Any, Any, Any]
LISTED = 100


@get("/senders")
async def senders_page(request: AnyRequest) -> Response[Any]:
    session = session_of(request)
    senders = (await api_json(request, session, "/Senders", pageSize=LISTED))["senders"]
    pools = (await api_json(request, session, "/SenderPools", pageSize=LISTED))["senderPools"]
    names = {sender["id"]: sender for sender in senders}
    return page(
        "senders.html",
        title="Senders and pools",
        session=session,
        senders=senders,
        pools=pools,
        names=names,
    )
