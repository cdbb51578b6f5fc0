"""3. end-to-end: 10 operations of 10,000 recipients on the simulator at zero latency, from
the first POST until every operation is COMPLETED and, with a sink, until the receiver
has every event; 5. memory: the server's peak RSS during those runs.

Expected events, for ordinary numbers: per Message queued, sent, delivered and read (the
first channel delivers and reads), plus processing and completed per operation.
"""

from __future__ import annotations

import asyncio
import os
import time
from dataclasses import dataclass, field
from typing import Any

from bench.api import Api, send_body
from bench.cpu_budget import budget, postgres_server_pids, snapshot
from bench.message_cost import message_cost, settled_writes, table_writes
from bench.params import Parameters
from bench.report import Result
from bench.scenarios import Context, check, checked
from bench.server import ServerProcess, fresh_database
from bench.sink import SinkProcess, SinkSummary

__all__ = ["EndToEnd", "run_end_to_end"]

MESSAGE_EVENTS = ("queued", "sent", "delivered", "read")
OPERATION_EVENTS = ("processing", "completed")


@dataclass
class EndToEnd:
    """The outcome of one run: times from the first POST, and what was seen."""

    messages: int
    posted_s: float = 0.0
    completed_s: float = 0.0
    drained_s: float | None = None  # the sink had every event
    events_expected: int = 0
    events_seen: int = 0  # unique events at the sink (when the wait ended)
    waited_s: float = 0.0  # until the sink had every event, or the budget ran out
    sink_stalled: bool = False  # events stopped arriving before all had come
    peak_rss_mb: float = 0.0
    progress: list[tuple[float, int]] = field(default_factory=list)
    events_progress: list[tuple[float, int]] = field(default_factory=list)
    sink: dict[str, Any] = field(default_factory=dict)
    writes_before: dict[str, int] = field(default_factory=dict)  # bench/message_cost.py
    budget: dict[str, Any] = field(default_factory=dict)  # bench/cpu_budget.py
    cost: dict[str, Any] = field(default_factory=dict)

    @property
    def drained(self) -> bool:
        return self.events_seen == self.events_expected

    @property
    def rate(self) -> float:
        """Messages per second to COMPLETED, and to the last event when there is a sink. A
        sink that did not drain within its budget gives the rate its events arrived at."""
        if not self.events_expected:
            return self.messages / self.completed_s
        if self.drained_s is not None:
            return self.messages / max(self.completed_s, self.drained_s)
        return self.messages * self.events_seen / self.events_expected / self.waited_s


def _expected_events(operations: int, recipients: int) -> dict[str, int]:
    expected = dict.fromkeys(MESSAGE_EVENTS, operations * recipients)
    return expected | dict.fromkeys(OPERATION_EVENTS, operations)


def _check_operations(finals: list[dict[str, Any]], recipients: int) -> None:
    for body in finals:
        stats = body["stats"]
        check(body["status"] == "COMPLETED", f"{body['id']} is {body['status']}")
        check(
            stats["total"] == stats["recipients"] == recipients,
            f"{body['id']}: total {stats['total']}, recipients {stats['recipients']}",
        )
        check(stats["read"] == recipients, f"{body['id']}: {stats['read']} READ of {recipients}")
        check(stats["attempts"] == recipients, f"{body['id']}: {stats['attempts']} attempts")


def _check_sink(summary: SinkSummary, operations: list[str], recipients: int) -> None:
    expected = _expected_events(len(operations), recipients)
    total = sum(expected.values())
    check(summary.malformed == 0, f"{summary.malformed} malformed event batches")
    check(
        summary.by_type == expected,
        f"{summary.unique_ids} unique events of {total} expected;"
        f" by type {summary.by_type}, expected {expected}",
    )
    check(summary.unique_ids == total, f"{summary.unique_ids} unique events, expected {total}")
    check(summary.events == total, f"{summary.events} events for {total} unique: duplicates")
    per_operation = recipients * len(MESSAGE_EVENTS) + len(OPERATION_EVENTS)
    wrong = {o: n for o, n in summary.by_operation.items() if n != per_operation}
    check(set(summary.by_operation) == set(operations), "events of unknown operations")
    check(not wrong, f"operations with a wrong event count: {wrong}")
    check(summary.messages == len(operations) * recipients, f"{summary.messages} Messages seen")


async def _wait_drained(
    sink: SinkProcess, outcome: EndToEnd, started: float, params: Parameters
) -> None:
    """Poll the receiver until it has every expected event. It stops early when nothing
    arrives for `e2e_sink_idle_s` (events are missing: the checks then say which), and at
    `e2e_sink_budget_s` after the first POST (a sink too slow for the run's time budget
    is a missed target, not a hang)."""
    last_change = time.monotonic()
    while True:
        summary = await asyncio.to_thread(sink.summary)
        now = time.monotonic()
        if summary.unique_ids != outcome.events_seen:
            last_change = now
        outcome.events_seen, outcome.waited_s = summary.unique_ids, now - started
        outcome.events_progress.append(
            (round(now - started, 3), summary.unique_ids // len(MESSAGE_EVENTS))
        )
        if summary.unique_ids >= outcome.events_expected:
            clock_offset = time.time() - time.monotonic()
            outcome.drained_s = summary.last_event_at - clock_offset - started
            return
        if now - last_change > params.e2e_sink_idle_s:
            outcome.sink_stalled = True
            return
        if now - started > params.e2e_sink_budget_s:
            return
        await asyncio.sleep(0.25)


async def _check_sink_after(
    sink: SinkProcess, outcome: EndToEnd, operation_ids: list[str], recipients: int
) -> None:
    await asyncio.sleep(1)  # anything more would be a duplicate: let it show
    summary = await asyncio.to_thread(sink.summary)
    outcome.sink = {"events": summary.events, "posts": summary.posts, "by_type": summary.by_type}
    check(summary.events == summary.unique_ids, f"{summary.events - summary.unique_ids} duplicates")
    check(summary.malformed == 0, f"{summary.malformed} malformed event batches")
    if outcome.drained or outcome.sink_stalled:
        _check_sink(summary, operation_ids, recipients)


def _parts(server: ServerProcess, url: str) -> dict[str, list[int]]:
    """The processes whose CPU a message costs: the server, and PostgreSQL's (all of
    them, other databases' too: on a quiet machine that is this run's)."""
    if url.startswith("sqlite:"):
        return {"opencomms": [server.pid]}
    return {"opencomms": [server.pid], "postgresql": postgres_server_pids()}


async def _drive(
    server: ServerProcess, sink: SinkProcess | None, params: Parameters, url: str
) -> EndToEnd:
    operations, recipients = params.e2e_operations, params.e2e_recipients
    bodies = [send_body(recipients, offset=i * recipients) for i in range(operations)]
    outcome = EndToEnd(messages=operations * recipients)
    if sink is not None:
        outcome.events_expected = sum(_expected_events(operations, recipients).values())
    async with Api(server.url, server.credentials.auth) as api:
        if sink is not None:
            await api.add_sink(sink.url + "/events")
        outcome.writes_before = await table_writes(url)
        cpu_before = snapshot(_parts(server, url))
        started = time.monotonic()
        operation_ids = [await api.send(body) for body in bodies]
        outcome.posted_s = time.monotonic() - started

        def progress(at: float, settled: int) -> None:
            outcome.progress.append((round(at - started, 3), settled))
            if sink is not None:  # ~1 ms: the receiver answers from memory
                events = sink.summary().unique_ids
                outcome.events_progress.append(
                    (round(at - started, 3), events // len(MESSAGE_EVENTS))
                )

        finals = await api.wait_completed(
            operation_ids, within_s=params.e2e_timeout_s, on_progress=progress
        )
        outcome.completed_s = time.monotonic() - started
        _check_operations(await api.read_receipts(finals), recipients)
    if sink is not None:
        await _wait_drained(sink, outcome, started, params)
        await _check_sink_after(sink, outcome, operation_ids, recipients)
    cpu_after = snapshot(_parts(server, url))
    outcome.budget = budget(cpu_before, cpu_after, outcome.messages, os.cpu_count() or 1)
    outcome.peak_rss_mb = server.peak_rss_mb()
    return outcome


def _one_run(context: Context, engine: str, with_sink: bool) -> EndToEnd:
    label = f"{engine} + sink" if with_sink else engine
    directory = context.directory(f"e2e-{engine}-{'sink' if with_sink else 'nosink'}")
    with fresh_database(engine, directory) as url:
        sink = SinkProcess().start() if with_sink else None
        try:
            with ServerProcess(url, directory, allow_loopback_sinks=with_sink) as server:
                outcome = asyncio.run(_drive(server, sink, context.params, url))
        finally:
            if sink is not None:
                sink.stop()
        # after the server stopped: its backends have flushed their counters on exit
        after = asyncio.run(settled_writes(url))
        outcome.cost = message_cost(outcome.writes_before, after, outcome.budget, outcome.messages)
    context.run.progress[label] = outcome.progress
    if with_sink:
        context.run.progress[label + ": events at the sink ÷ 4"] = outcome.events_progress
    return outcome


def _figures(outcome: EndToEnd) -> dict[str, Any]:
    figures: dict[str, Any] = {
        "messages": outcome.messages,
        "posted_s": round(outcome.posted_s, 2),
        "completed_s": round(outcome.completed_s, 2),
        "completed_rate": round(outcome.messages / outcome.completed_s),
        "peak_rss_mb": round(outcome.peak_rss_mb, 1),
        "message_cost": outcome.cost,  # bench/message_cost.py; the driver's beside it later
    }
    if outcome.events_expected:
        figures["sink_drained_s"] = outcome.drained_s and round(outcome.drained_s, 2)
        figures["sink_events"] = f"{outcome.events_seen} of {outcome.events_expected}"
        figures["sink_waited_s"] = round(outcome.waited_s, 1)
        figures |= outcome.sink
    return figures


def run_end_to_end(context: Context, engine: str) -> list[Result]:
    """Both runs on `engine` (with and without the sink), and the peak RSS of either."""
    targets, params = context.params.targets, context.params
    size = f"{params.e2e_operations} × {params.e2e_recipients:,}"
    memory = Result(
        "memory", engine, "server peak RSS during end-to-end", "MB",
        f"≤ {targets.peak_rss_mb:.0f} MB",
    )  # fmt: skip
    results = []
    peaks: list[float] = []
    for with_sink in (True, False):
        result = Result(
            "end-to-end",
            engine,
            f"{size}, {'with' if with_sink else 'no'} sink",
            "msg/s",
            f"≥ {targets.end_to_end_mps:,.0f} msg/s",
        )
        results.append(result)
        with checked(context.run, result):
            outcome = _one_run(context, engine, with_sink)
            result.measured = outcome.rate
            result.met = outcome.rate >= targets.end_to_end_mps and outcome.drained
            result.details = _figures(outcome)
            peaks.append(outcome.peak_rss_mb)
            print(f"  end-to-end {result.metric} {engine}: {result.details}", flush=True)
    with checked(context.run, memory):
        check(len(peaks) == 2, "an end-to-end run failed: its peak RSS is unknown")
        memory.measured = max(peaks)
        memory.met = memory.measured <= targets.peak_rss_mb
        memory.details = {"with_sink_mb": round(peaks[0], 1), "no_sink_mb": round(peaks[1], 1)}
    return [*results, memory]
