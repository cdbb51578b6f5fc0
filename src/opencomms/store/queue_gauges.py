"""What `/metrics` reads at scrape time: the queue's backlog and its oldest due Message,
each one bounded query (the running operations' counters; the first entry of the due
index), never a scan of the Messages."""

from __future__ import annotations

from typing import NamedTuple

from opencomms.store.database import Conn

__all__ = ["QueueGauges", "queue_gauges"]

# the recipients of running operations not yet fanned out, and those QUEUED (store/backlog.py)
_BACKLOG = (
    "SELECT COALESCE(SUM(recipients - fanout_cursor + queued), 0) FROM operations"
    " WHERE status IN ('SCHEDULED', 'PROCESSING') AND status = 'PROCESSING'"
)
_FIRST_DUE = "SELECT MIN(due_at) FROM messages WHERE due_at IS NOT NULL"


class QueueGauges(NamedTuple):
    backlog: int
    first_due_at: int | None  # ms; the dispatcher's next look at a Message


async def queue_gauges(conn: Conn) -> QueueGauges:
    backlog = await conn.fetchrow(_BACKLOG)
    first_due = await conn.fetchrow(_FIRST_DUE)
    return QueueGauges(
        backlog=int(backlog[0]) if backlog is not None else 0,
        first_due_at=None if first_due is None or first_due[0] is None else int(first_due[0]),
    )
