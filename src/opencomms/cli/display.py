"""How `watch` shows operations: a live progress bar on a terminal, plain lines elsewhere.

Progress counts *settled* recipients over `recipients`: a Message is settled once it is
DELIVERED, READ, UNDELIVERED, FAILED or CANCELED, and SENT ones count once the operation is
COMPLETED or CANCELED (no receipt is awaited any more). Unaddressable recipients never get a
Message; they are settled from the start, so a finished operation always shows 100%.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Sequence
from types import TracebackType
from typing import Any, Protocol

from rich.console import Console, RenderableType
from rich.progress import (
    BarColumn,
    MofNCompleteColumn,
    Progress,
    TaskID,
    TaskProgressColumn,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Column, Table
from rich.text import Text

__all__ = [
    "BUCKETS",
    "FINISHED",
    "LiveDisplay",
    "OperationDisplay",
    "PlainDisplay",
    "breakdown",
    "display_for",
    "legend",
    "settled",
    "stats_table",
]

Operation = dict[str, Any]
BUCKETS = ("scheduled", "queued", "sent", "delivered", "read", "undelivered", "failed", "canceled")
FINISHED = frozenset({"COMPLETED", "CANCELED"})
_SETTLED = ("delivered", "read", "undelivered", "failed", "canceled", "unaddressable")
_TABLE_ROWS = ("recipients", "total", "unaddressable", "attempts", *BUCKETS)
PLAIN_EVERY = 1.0  # seconds between two plain progress lines of one operation


def settled(operation: Operation) -> int:
    """Recipients that need nothing more (see the module docstring)."""
    stats = operation["stats"]
    done = sum(int(stats.get(key, 0)) for key in _SETTLED)
    if operation["status"] in FINISHED:
        done += int(stats.get("sent", 0))
    return done


def breakdown(operation: Operation) -> str:
    """One line: the status, then every non-empty bucket, e.g. `PROCESSING · queued 3 · read 7`."""
    stats = operation["stats"]
    parts = [operation["status"]]
    parts += [f"{key} {stats[key]:,}" for key in (*BUCKETS, "unaddressable") if stats.get(key)]
    return " · ".join(parts)


class OperationDisplay(Protocol):
    """Shows the latest state of the watched operations; a context manager."""

    def __enter__(self) -> OperationDisplay: ...

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None: ...

    def update(self, operations: Sequence[Operation]) -> None: ...


def display_for(console: Console, operation_ids: Sequence[str]) -> OperationDisplay:
    """A live display on a terminal; plain, throttled lines in pipes, logs and tests."""
    if console.is_terminal and not console.is_dumb_terminal:
        return LiveDisplay(console, operation_ids)
    return PlainDisplay(console)


class _BarsWithBreakdown(Progress):
    """A progress bar per task, each followed by its `breakdown` line."""

    def get_renderables(self) -> Iterable[RenderableType]:
        for task in self.tasks:
            yield self.make_tasks_table([task])
            yield Text("  " + str(task.fields.get("breakdown", "")), style="dim")


class LiveDisplay:
    """One progress bar per operation, each with its breakdown line underneath."""

    def __init__(self, console: Console, operation_ids: Sequence[str]) -> None:
        self._progress = _BarsWithBreakdown(
            TextColumn("{task.description}"),
            BarColumn(bar_width=None, table_column=Column(ratio=1)),
            # fixed widths, so that the bars of all operations line up
            MofNCompleteColumn(table_column=Column(min_width=13, justify="right")),
            TaskProgressColumn(table_column=Column(min_width=4, justify="right")),
            TimeElapsedColumn(table_column=Column(min_width=7)),
            console=console,
            expand=True,
            refresh_per_second=8,
        )
        self._tasks: dict[str, TaskID] = {
            operation_id: self._progress.add_task(
                operation_id, total=None, breakdown="waiting for the server…"
            )
            for operation_id in operation_ids
        }

    def __enter__(self) -> LiveDisplay:
        self._progress.start()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self._progress.stop()

    def update(self, operations: Sequence[Operation]) -> None:
        for operation in operations:
            self._progress.update(
                self._tasks[operation["id"]],
                total=int(operation["stats"].get("recipients", 0)),
                completed=settled(operation),
                breakdown=breakdown(operation),
            )


class PlainDisplay:
    """A line per operation when its stats change, at most every `PLAIN_EVERY` seconds
    (and always when its status changes), so logs stay short and readable."""

    def __init__(self, console: Console) -> None:
        self._console = console
        self._shown: dict[str, tuple[str, str, float]] = {}  # id -> (line, status, when)

    def __enter__(self) -> PlainDisplay:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        return None

    def update(self, operations: Sequence[Operation]) -> None:
        now = time.monotonic()
        for operation in operations:
            line, status = _plain_line(operation), operation["status"]
            previous, shown_status, at = self._shown.get(operation["id"], ("", "", 0.0))
            due = status != shown_status or now - at >= PLAIN_EVERY
            if line != previous and due:
                self._console.print(line, markup=False, highlight=False, soft_wrap=True)
                self._shown[operation["id"]] = (line, status, now)


def _plain_line(operation: Operation) -> str:
    recipients = int(operation["stats"].get("recipients", 0))
    done = settled(operation)
    percent = f"{100 * done // recipients}%" if recipients else "-"
    return f"{operation['id']} {breakdown(operation)} · settled {done:,}/{recipients:,} ({percent})"


def stats_table(operations: Sequence[Operation]) -> Table:
    """The final stats: a row per counter, a column per operation (`#1`, …), and a total."""
    table = Table(title="Final stats", title_justify="left")
    table.add_column("stat")
    for index, _ in enumerate(operations, start=1):
        table.add_column(f"#{index}", justify="right")
    if len(operations) > 1:
        table.add_column("total", justify="right", style="bold")
    for row in _TABLE_ROWS:
        values = [int(operation["stats"].get(row, 0)) for operation in operations]
        cells = [f"{value:,}" for value in values]
        if len(operations) > 1:
            cells.append(f"{sum(values):,}")
        table.add_row(row, *cells)
    return table


def legend(operations: Sequence[Operation]) -> list[str]:
    """`#1 comms_operation_… COMPLETED`: which column of the table is which operation."""
    return [
        f"#{index} {operation['id']} {operation['status']}"
        for index, operation in enumerate(operations, start=1)
    ]
