"""The sinks a send's `callbacks.url` makes: one per account and URL, made the first time
a send names it (within the account's `[sinks] max_per_account`), marked used at every
send that names it, and deleted once unused for `[sinks] callback_expiry`
(events/sink_expiry.py). They are listed and deleted under `/v1/Sinks` with
`kind: "callback"`."""

from __future__ import annotations

from typing import Any

from litestar import Request

from opencomms.api.common import runtime_of
from opencomms.api.errors import FieldError
from opencomms.api.sinks import check_room_for_sink, checked_callback_url, room_for_sink
from opencomms.domain.ids import new_sink_id
from opencomms.store import sinks
from opencomms.store.database import Conn
from opencomms.store.sinks import SinkRecord

__all__ = ["callback_url_problems", "link_callback_sink"]

FIELD = "callbacks.url"
AnyRequest = Request[Any, Any, Any]


async def callback_url_problems(request: AnyRequest, account: str, url: str) -> list[FieldError]:
    """Where the URL points (SSRF guard), and whether the account has room for its sink."""
    problems = await checked_callback_url(request, url, FIELD)
    if problems:
        return problems
    runtime = runtime_of(request)
    limit = runtime.settings.sinks.max_per_account

    async def room(conn: Conn) -> FieldError | None:
        if await sinks.callback_sink(conn, account, url) is not None:
            return None
        return await room_for_sink(conn, account, limit, FIELD)

    full = await runtime.db.read(room)
    return [full] if full else []


async def link_callback_sink(
    conn: Conn, account: str, operation_id: str, url: str, *, now: int, limit: int
) -> None:
    """This operation's events also go to `url`, through the account's callback sink for
    it (made now if it is the first send to name it: a 400 past the limit)."""
    sink = await sinks.callback_sink(conn, account, url)
    if sink is None:
        await check_room_for_sink(conn, account, limit, FIELD)
        sink = SinkRecord(
            id=new_sink_id(), account_sid=account, kind="callback", url=url,
            description="callbacks.url of a send", secret_sealed="", status="ACTIVE",
            cursor_txid=0, cursor_seq=0, tries=0, failing_since=None,
            next_attempt_at=now, created_at=now, updated_at=now, last_used_at=now,
        )  # fmt: skip
        await sinks.insert_sink(conn, sink)
    else:
        await sinks.touch_callback(conn, sink.id, now)
    await sinks.link_callback(conn, operation_id, sink.id)
