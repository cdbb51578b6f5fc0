"""A server of its own for retention tests (the pruner deletes across accounts), and
ways to make stored rows look as old as a test needs."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from opencomms.domain.clock import now_ms
from opencomms.settings import RetentionSettings, SimulatorSettings
from tests.support.server import ThreadServer, running_server

DAY_MS = 86_400_000


@contextmanager
def retention_server(backend: str, directory: Path) -> Iterator[ThreadServer]:
    """A running server whose own pruner waits an hour between passes: the tests run
    passes themselves, at the moments they choose."""
    with running_server(
        backend,
        directory,
        simulator=SimulatorSettings(
            receipt_latency_ms=[0, 5], fallback_timeout="400ms", receipt_wait="800ms"
        ),
        retention=RetentionSettings(batch_size=50, pause="0ms", interval="1h"),
    ) as running:
        yield running


def sql(server: ThreadServer, statement: str, *args: Any) -> list[tuple[Any, ...]]:
    """The rows of a query on the server's database (as the operator would look)."""
    rows = server.call(server.runtime.db.read(lambda conn: conn.fetch(statement, *args)))
    return [tuple(row) for row in rows]


def count(server: ThreadServer, table: str, where: str, *args: Any) -> int:
    found: int = sql(server, f"SELECT COUNT(*) FROM {table} WHERE {where}", *args)[0][0]
    return found


def age(server: ThreadServer, table: str, column: str, where: str, *args: Any, days: float) -> None:
    """Move `column` of the matching rows `days` into the past: time passing, for them."""
    shift = int(days * DAY_MS)
    server.call(
        server.runtime.db.write(
            lambda conn: conn.execute(
                f"UPDATE {table} SET {column} = {column} - ? WHERE {where}", shift, *args
            )
        )
    )


def prune(server: ThreadServer) -> dict[str, int]:
    """One pass of the server's pruner, now."""
    return server.call(server.runtime.pruner.prune(now_ms()))
