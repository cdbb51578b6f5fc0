"""What `watch` shows: settled counts, the breakdown, the live and the plain display."""

from __future__ import annotations

import io
import re
from typing import Any

import httpx
from rich.console import Console

from opencomms.cli.client import ApiClient
from opencomms.cli.connection import Connection
from opencomms.cli.display import (
    LiveDisplay,
    PlainDisplay,
    breakdown,
    display_for,
    settled,
    stats_table,
)
from opencomms.cli.watch import follow


def op(status: str, **stats: int) -> dict[str, Any]:
    buckets = dict.fromkeys(
        ("scheduled", "queued", "sent", "delivered", "read", "undelivered", "failed", "canceled"), 0
    )
    buckets.update(stats)
    total = sum(buckets.values())
    counts = {"recipients": total + stats.get("unaddressable", 0), "total": total}
    return {"id": "comms_operation_a", "status": status, "stats": {**counts, **buckets}}


def test_sent_counts_as_settled_only_once_completed() -> None:
    assert settled(op("PROCESSING", sent=2, delivered=1, queued=1)) == 1
    assert settled(op("COMPLETED", sent=2, delivered=1, failed=1)) == 4


def test_unaddressable_recipients_are_settled() -> None:
    finished = op("COMPLETED", read=1)
    finished["stats"].update(unaddressable=1, recipients=2)
    assert settled(finished) == 2


def test_breakdown_lists_the_non_empty_buckets() -> None:
    assert breakdown(op("PROCESSING", queued=3, read=1_200)) == "PROCESSING · queued 3 · read 1,200"


def test_plain_display_prints_on_change_and_on_status_change() -> None:
    out = io.StringIO()
    display = PlainDisplay(Console(file=out, width=200))
    display.update([op("PROCESSING", queued=2)])
    display.update([op("PROCESSING", queued=2)])  # unchanged: nothing
    display.update([op("PROCESSING", queued=1, read=1)])  # changed too soon: nothing
    display.update([op("COMPLETED", read=2)])  # new status: printed at once

    assert out.getvalue().splitlines() == [
        "comms_operation_a PROCESSING · queued 2 · settled 0/2 (0%)",
        "comms_operation_a COMPLETED · read 2 · settled 2/2 (100%)",
    ]


def test_a_terminal_gets_the_live_display_and_a_pipe_the_plain_one() -> None:
    terminal = Console(file=io.StringIO(), force_terminal=True)
    assert isinstance(display_for(terminal, ["a"]), LiveDisplay)
    assert isinstance(display_for(Console(file=io.StringIO()), ["a"]), PlainDisplay)


def test_follow_drives_the_live_display_until_completed() -> None:
    answers = iter(
        [op("PROCESSING", queued=2), op("PROCESSING", read=1, sent=1), op("COMPLETED", read=2)]
    )
    transport = httpx.MockTransport(lambda _: httpx.Response(200, json=next(answers)))
    out = io.StringIO()
    console = Console(file=out, force_terminal=True, width=120)

    with (
        ApiClient(Connection("http://x", "AC", "t"), transport=transport) as client,
        LiveDisplay(console, ["comms_operation_a"]) as display,
    ):
        (final,) = follow(client, ["comms_operation_a"], display, interval=0)

    assert final["status"] == "COMPLETED"
    assert "2/2" in out.getvalue()
    assert "COMPLETED · read 2" in out.getvalue()


def test_stats_table_has_a_total_column_for_several_operations() -> None:
    out = io.StringIO()
    table = stats_table([op("COMPLETED", read=2), op("COMPLETED", failed=1)])
    Console(file=out, width=100).print(table)

    rows = {
        cells[0]: cells[1:]
        for line in out.getvalue().splitlines()
        if len(cells := [cell.strip() for cell in re.split("[│┃]", line.strip("│┃ "))]) == 4
    }
    assert rows["stat"] == ["#1", "#2", "total"]
    assert rows["recipients"] == ["2", "1", "3"]
    assert rows["read"] == ["2", "0", "2"]
    assert rows["failed"] == ["0", "1", "1"]
