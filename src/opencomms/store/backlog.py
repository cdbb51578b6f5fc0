"""An account's backlog: the recipients it has handed the server that still wait for it.

Read from the counters on the operation rows (store/operations.py), so one row per
running operation, never a Message row: the recipients of its PROCESSING operations not
yet fanned out (`recipients - fanout_cursor`) and those fanned out into a Message QUEUED
for its first or next attempt (`queued`). A SCHEDULED operation or Message waits for its
time, not for the server, and a SENT one for its provider's receipt: neither counts.
"""

from __future__ import annotations

from opencomms.store.database import Conn

__all__ = ["account_backlog"]

# Over ix_operations_running_account, the account's running operations, rather than
# every operation it ever made: `status IN (...)` repeats that partial index's predicate
# word for word so that either engine may use it, and SQLite, which without statistics
# prefers ix_operations_account, is told to
_BACKLOG = (
    "SELECT COALESCE(SUM(recipients - fanout_cursor + queued), 0) FROM operations{indexed}"
    " WHERE status IN ('SCHEDULED', 'PROCESSING') AND status = 'PROCESSING'"
    " AND account_sid = ?"
)
_QUERIES = {
    "postgresql": _BACKLOG.format(indexed=""),
    "sqlite": _BACKLOG.format(indexed=" INDEXED BY ix_operations_running_account"),
}


async def account_backlog(conn: Conn, account_sid: str) -> int:
    row = await conn.fetchrow(_QUERIES[conn.dialect], account_sid)
    return int(row[0]) if row is not None else 0
