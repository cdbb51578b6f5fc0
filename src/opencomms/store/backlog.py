"""An account's backlog: the recipients it has handed the server that still wait for it.

Read from the counters on the operation rows (store/operations.py), so one row per
running operation, never a Message row: the recipients of its PROCESSING operations not
yet fanned out (`recipients - fanout_cursor`) and those fanned out into a Message QUEUED
for its first or next attempt (`queued`). A SCHEDULED operation or Message waits for its
time, not for the server, and a SENT one for its provider's receipt: neither counts.

Beside the whole backlog, the part of it in small operations (up to `small` recipients
each: codes, alerts), which admission paces (api/admission.py).
"""

from __future__ import annotations

from typing import NamedTuple

from opencomms.store.database import Conn

__all__ = ["Backlog", "account_backlog"]


class Backlog(NamedTuple):
    recipients: int  # the whole backlog
    in_small_sends: int  # of it, in operations of up to `small` recipients


# Over ix_operations_running_account, the account's running operations, rather than
# every operation it ever made: `status IN (...)` repeats that partial index's predicate
# word for word so that either engine may use it, and SQLite, which without statistics
# prefers ix_operations_account, is told to
_BACKLOG = (
    "SELECT COALESCE(SUM(recipients - fanout_cursor + queued), 0),"
    " COALESCE(SUM(CASE WHEN recipients <= ? THEN recipients - fanout_cursor + queued"
    " ELSE 0 END), 0) FROM operations{indexed}"
    " WHERE status IN ('SCHEDULED', 'PROCESSING') AND status = 'PROCESSING'"
    " AND account_sid = ?"
)
_QUERIES = {
    "postgresql": _BACKLOG.format(indexed=""),
    "sqlite": _BACKLOG.format(indexed=" INDEXED BY ix_operations_running_account"),
}


async def account_backlog(conn: Conn, account_sid: str, small: int) -> Backlog:
    row = await conn.fetchrow(_QUERIES[conn.dialect], small, account_sid)
    return Backlog(int(row[0]), int(row[1])) if row is not None else Backlog(0, 0)
