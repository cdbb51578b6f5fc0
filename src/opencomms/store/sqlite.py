"""SQLite: one writer thread that group-commits queued intents, and reader threads.

SQLite allows one writer at a time; concurrent writers through a pool gave p99 latencies
above a second in our measurements, while one serialized writer gave 2.5x the throughput.
The writer thread drains every intent waiting in its queue, runs each in a SAVEPOINT of
one transaction, commits once, and only then resolves the callers' futures: nothing is
acknowledged before it is durable (WAL, synchronous=NORMAL).

One process at a time works on a file: the engine's claims assume it (a starting process
makes due again whatever it finds claimed), so the running server holds an exclusive lock
on `<file>.lock` for its whole life (`ProcessLock`), and a second server on the same file
refuses to start. Commands that only read or change a few rows (`rotate-token`) do not
take it.

Intents are coroutines, written once for both engines; here they run on the thread's own
event loop and their calls to sqlite3 are synchronous (sqlite3 releases the GIL while
it works), so the application's event loop is never blocked by the database.

A full disk or an I/O error fails the group it hits (SQLite may have rolled the whole
transaction back) with `StoreUnavailable`; the writer then opens a new connection for
the next group and goes on, so writes work again as soon as the disk does.
"""

from __future__ import annotations

import asyncio
import contextlib
import fcntl
import os
import queue
import sqlite3
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any, TypeVar

from opencomms.store.database import Column, Dialect, Intent, Row
from opencomms.store.errors import StoreUnavailable, sqlite_unavailable

__all__ = ["ProcessLock", "SqliteDatabase", "SqliteInUse", "connect_sqlite"]

T = TypeVar("T")
_GROUP_LIMIT = 256
_READERS = 2


def connect_sqlite(path: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("PRAGMA busy_timeout=10000")
    conn.execute("PRAGMA cache_size=-65536")
    conn.execute("PRAGMA temp_store=MEMORY")
    return conn


class SqliteInUse(RuntimeError):
    """Another process holds the file: SQLite takes one server at a time."""


class ProcessLock:
    """An exclusive `flock` on `<path>.lock`, held until `release` or the process ends
    (the kernel drops it with the process, even after SIGKILL: no stale lock is left)."""

    def __init__(self, path: str) -> None:
        self.path = path + ".lock"
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            raise SqliteInUse(
                f"another opencomms process is running on the SQLite database {path}"
                f" (it holds {self.path}); SQLite takes one process at a time: stop it,"
                " or run several processes on PostgreSQL"
            ) from None
        self._fd: int | None = fd

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor drops the lock
            self._fd = None


class SqliteConn:
    dialect: Dialect = "sqlite"

    def __init__(self, raw: sqlite3.Connection) -> None:
        self._raw = raw

    async def execute(self, sql: str, *args: Any) -> int:
        return self._raw.execute(sql, args).rowcount

    async def executemany(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        if rows:
            self._raw.executemany(sql, rows)

    async def fetch(self, sql: str, *args: Any) -> list[Row]:
        return self._raw.execute(sql, args).fetchall()

    async def fetchrow(self, sql: str, *args: Any) -> Row | None:
        row: Row | None = self._raw.execute(sql, args).fetchone()
        return row

    async def insert_many(
        self, table: str, columns: Sequence[str], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            marks = ", ".join("?" * len(columns))
            sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({marks})"
            self._raw.executemany(sql, rows)

    async def update_many(
        self, table: str, columns: Sequence[Column], rows: Sequence[Sequence[Any]]
    ) -> None:
        if rows:
            sets = ", ".join(f"{name} = ?" for name, _ in columns)
            self._raw.executemany(f"UPDATE {table} SET {sets} WHERE id = ?", rows)


@dataclass
class _Write:
    intent: Intent[Any]
    future: Future[Any] = field(default_factory=Future)


class SqliteDatabase:
    """The embedded engine's database: a file, one writer, a few readers."""

    dialect: Dialect = "sqlite"

    def __init__(self, path: str, *, lock: ProcessLock | None = None) -> None:
        """`lock`: the process's hold on the file, released at `close`."""
        self.path = path
        self._lock = lock
        self._queue: queue.SimpleQueue[_Write | None] = queue.SimpleQueue()
        self._writer = threading.Thread(target=self._write_loop, name="sqlite-writer", daemon=True)
        self._local = threading.local()
        self._readers = ThreadPoolExecutor(_READERS, thread_name_prefix="sqlite-reader")
        self._reader_conns: list[sqlite3.Connection] = []
        self._writer.start()

    async def write(self, intent: Intent[T]) -> T:
        item = _Write(intent)
        self._queue.put(item)
        with _unavailable_raised():
            result: T = await asyncio.wrap_future(item.future)
        return result

    async def read(self, query: Intent[T]) -> T:
        future = self._readers.submit(self._run_read, query)
        with _unavailable_raised():
            result: T = await asyncio.wrap_future(future)
        return result

    async def close(self) -> None:
        self._queue.put(None)
        await asyncio.to_thread(self._writer.join)
        self._readers.shutdown(wait=True)
        for conn in self._reader_conns:
            conn.close()
        if self._lock is not None:
            self._lock.release()

    def _write_loop(self) -> None:
        loop = asyncio.new_event_loop()
        raw: sqlite3.Connection | None = None
        try:
            while (group := self._next_group()) is not None:
                try:
                    raw = raw or connect_sqlite(self.path)
                except sqlite3.Error as error:
                    _fail(group, error)
                    continue
                if not loop.run_until_complete(self._commit_group(raw, group)):
                    with contextlib.suppress(sqlite3.Error):
                        raw.close()
                    raw = None  # a new connection for the next group
        finally:
            loop.close()
            if raw is not None:
                raw.close()

    def _next_group(self) -> list[_Write] | None:
        """The writes waiting, up to _GROUP_LIMIT; None once the database is closing."""
        first = self._queue.get()
        if first is None:
            return None
        group = [first]
        while len(group) < _GROUP_LIMIT:
            try:
                item = self._queue.get_nowait()
            except queue.Empty:
                break
            if item is None:
                self._queue.put(None)
                break
            group.append(item)
        return group

    async def _commit_group(self, raw: sqlite3.Connection, group: list[_Write]) -> bool:
        """Run and commit the group; False when the connection should not be used again."""
        conn = SqliteConn(raw)
        outcomes: list[tuple[_Write, Any, BaseException | None]] = []
        try:
            raw.execute("BEGIN IMMEDIATE")
            for item in group:
                # A caller cancelled while queued gets nothing written; once running, the
                # future can no longer be cancelled, so setting its result below is safe.
                if not item.future.set_running_or_notify_cancel():
                    continue
                raw.execute("SAVEPOINT intent")
                try:
                    value = await item.intent(conn)
                except Exception as error:  # the caller gets it; the others still commit
                    if not raw.in_transaction:  # SQLite rolled the whole group back
                        raise
                    raw.execute("ROLLBACK TO intent")
                    raw.execute("RELEASE intent")
                    outcomes.append((item, None, error))
                else:
                    raw.execute("RELEASE intent")
                    outcomes.append((item, value, None))
            raw.execute("COMMIT")
        except Exception as error:  # nothing of the group stands
            rolled_back = _rollback(raw)
            _fail(group, error)
            return rolled_back and not sqlite_unavailable(error)
        for item, value, failure in outcomes:
            if failure is None:
                item.future.set_result(value)
            else:
                item.future.set_exception(failure)
        return True

    def _run_read(self, query: Intent[T]) -> T:
        state = self._local
        if not hasattr(state, "loop"):
            state.loop = asyncio.new_event_loop()
        if getattr(state, "raw", None) is None:
            state.raw = connect_sqlite(self.path)
            state.conn = SqliteConn(state.raw)
            self._reader_conns.append(state.raw)
        try:
            state.raw.execute("BEGIN")
            try:
                result: T = state.loop.run_until_complete(query(state.conn))
            finally:
                if state.raw.in_transaction:
                    state.raw.execute("COMMIT")
        except sqlite3.Error as error:
            if sqlite_unavailable(error):  # the next read opens a new connection
                self._reader_conns.remove(state.raw)
                state.raw.close()
                state.raw = None
            raise
        return result


@contextlib.contextmanager
def _unavailable_raised() -> Iterator[None]:
    """sqlite3's errors of a failing disk or file, as StoreUnavailable."""
    try:
        yield
    except sqlite3.Error as error:
        if sqlite_unavailable(error):
            raise StoreUnavailable(f"SQLite: {error}") from error
        raise


def _rollback(raw: sqlite3.Connection) -> bool:
    """End the failed transaction; False when even that failed."""
    try:
        if raw.in_transaction:
            raw.execute("ROLLBACK")
    except sqlite3.Error:
        return False
    return True


def _fail(group: list[_Write], error: BaseException) -> None:
    """Every write of the group not yet answered gets `error`."""
    for item in group:
        if item.future.done():
            continue
        if item.future.running() or item.future.set_running_or_notify_cancel():
            item.future.set_exception(error)
