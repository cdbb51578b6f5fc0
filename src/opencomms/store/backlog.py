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

# `status IN (...)` repeats the predicate of ix_operations_account_running word for word,
# so that SQLite may read that partial index (the account's running operations) rather
# than every operation the account ever made
_BACKLOG = (
    "SELECT COALESCE(SUM(recipients - fanout_cursor + queued), 0) FROM operations"
    " WHERE status IN ('SCHEDULED', 'PROCESSING') AND status = 'PROCESSING'"
    " AND account_sid = ?"
)


async def account_backlog(conn: Conn, account_sid: str) -> int:
    row = await conn.fetchrow(_BACKLOG, account_sid)
    return int(row[0]) if row is not None else 0
