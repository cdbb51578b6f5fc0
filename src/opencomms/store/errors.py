"""The database cannot be used right now: a full disk, an I/O error, a file that cannot be
opened, a lost connection, a server that refuses or does not answer. Each engine raises
`StoreUnavailable` for those (and only those) driver errors; the API answers it with 503
and `Retry-After`, and the background workers wait and try again. Every other error is
a bug or bad data and keeps its own type.
"""

from __future__ import annotations

import sqlite3

import asyncpg

__all__ = ["StoreUnavailable", "postgres_unavailable", "sqlite_unavailable"]


class StoreUnavailable(Exception):
    """The database could not be reached or written; nothing of the intent was committed,
    unless the connection was lost during its commit (then it may have been)."""


# Primary result codes (the low byte of an extended code) of an environment that failed,
# not of the statement: https://www.sqlite.org/rescode.html
_SQLITE_UNAVAILABLE = {
    5: "SQLITE_BUSY",  # another process held the lock past busy_timeout
    7: "SQLITE_NOMEM",
    8: "SQLITE_READONLY",  # the file or its directory cannot be written
    10: "SQLITE_IOERR",
    11: "SQLITE_CORRUPT",
    13: "SQLITE_FULL",  # the disk (or the file-size limit) is full
    14: "SQLITE_CANTOPEN",
    15: "SQLITE_PROTOCOL",
    26: "SQLITE_NOTADB",
}


def sqlite_unavailable(error: BaseException) -> bool:
    code = getattr(error, "sqlite_errorcode", None) if isinstance(error, sqlite3.Error) else None
    return code is not None and code & 0xFF in _SQLITE_UNAVAILABLE


_POSTGRES_UNAVAILABLE: tuple[type[BaseException], ...] = (
    OSError,  # refused, reset, unreachable
    TimeoutError,  # no connection within [faults] connect_timeout
    asyncpg.PostgresConnectionError,  # class 08, and a connection lost mid-operation
    asyncpg.InsufficientResourcesError,  # class 53: disk full, out of memory, connections
    asyncpg.OperatorInterventionError,  # class 57: shutting down, starting up
    asyncpg.ReadOnlySQLTransactionError,  # a standby after a failover
)
_CLOSED = ("connection is closed", "connection was closed", "pool is closing", "pool is closed")


def postgres_unavailable(error: BaseException) -> bool:
    if isinstance(error, _POSTGRES_UNAVAILABLE):
        return True
    return isinstance(error, asyncpg.InterfaceError) and any(
        phrase in str(error) for phrase in _CLOSED
    )
