"""scale-out: the end-to-end workload on PostgreSQL run by 1, 2 and 4 processes of
`opencomms serve --workers N` on one port, in messages a second and as a ratio to one
process.

Each run is a fresh database and one `serve --workers N` (N children on one port with
SO_REUSEPORT, sharing the work through the database); every child is listening (so its
workers have started) before the first POST. The workload is end-to-end's:
`scale_operations` POSTs of `scale_recipients` ordinary numbers, the simulator at zero
receipt latency, no sink; timed from the first POST until every operation is COMPLETED.
The POSTs go one after the other over one kept-alive connection, so one child accepts
them all: accepting is ~30 ms a POST, the fan-out, dispatch and receipts that follow are
claimed by every child from the database.

Checks, per run: every operation COMPLETED with `total = recipients = attempts`; every
Message listed (page by page) READ, one per recipient; the simulator's submit log (one
file for all the children, each submit batch appended in one `write` with `O_APPEND`)
has exactly one line per Message, every attempt id once, every submit accepted.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import msgspec

from bench.api import Api, BenchFailure, phone_number, send_body
from bench.cpu_budget import budget, cores_needed, postgres_server_pids, snapshot
from bench.params import Parameters
from bench.report import Result
from bench.scenarios import Context, check, checked
from bench.server import ServerProcess, cpu_seconds, fresh_database, peak_rss_mb

__all__ = ["run_scale_out"]

LISTEN = "0A"  # the state column of /proc/net/tcp for a listening socket


@dataclass
class Outcome:
    """One run with `processes` processes: times from the first POST, and what they used."""

    processes: int
    messages: int
    posted_s: float = 0.0
    completed_s: float = 0.0
    submits: int = 0
    cpu_s: dict[str, Any] = field(default_factory=dict)  # CPU seconds over the timed part
    budget: dict[str, Any] = field(default_factory=dict)  # bench/cpu_budget.py
    peak_rss_mb: list[float] = field(default_factory=list)
    progress: list[tuple[float, int]] = field(default_factory=list)

    @property
    def rate(self) -> float:
        return self.messages / self.completed_s


def listeners(port: int) -> int:
    """How many sockets listen on `port` (IPv4 and IPv6), from /proc/net: a child of
    `--workers N` listens once its start-up, workers included, is done."""
    count = 0
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            local, state = row.split()[1], row.split()[3]
            if state == LISTEN and int(local.rpartition(":")[2], 16) == port:
                count += 1
    return count


def processes_of(server: ServerProcess, processes: int) -> list[int]:
    """The pids that do the work: the server itself, or the children of `--workers N`."""
    if processes == 1:
        return [server.pid]
    children = Path(f"/proc/{server.pid}/task/{server.pid}/children").read_text().split()
    return [int(pid) for pid in children]


def wait_all_listening(server: ServerProcess, processes: int, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while listeners(server.port) < processes:
        check(
            time.monotonic() < deadline,
            f"{listeners(server.port)} of {processes} processes listening after {timeout:.0f} s:"
            f"\n{server.log_tail()}",
        )
        time.sleep(0.05)


def _submits(path: Path) -> list[dict[str, str]]:
    decoder = msgspec.json.Decoder(dict[str, str])
    raw = path.read_bytes().splitlines() if path.exists() else []
    try:
        return [decoder.decode(line) for line in raw]
    except msgspec.DecodeError as error:
        raise BenchFailure(f"a torn line in the submit log: {error}") from None


def check_submit_log(path: Path, operation_ids: list[str], messages: int) -> int:
    """Every Message submitted exactly once (the simulator's log, written by every
    process); the number of submits."""
    lines = _submits(path)
    attempts = Counter(line["attemptId"] for line in lines)
    twice = [attempt for attempt, count in attempts.items() if count > 1]
    check(not twice, f"{len(twice)} attempts submitted more than once, e.g. {twice[:3]}")
    check(len(lines) == messages, f"{len(lines)} submits in the log for {messages} Messages")
    check(
        len({line["messageId"] for line in lines}) == messages,
        "a Message submitted under two attempts",
    )
    refused = Counter(line["result"] for line in lines if line["result"] != "ACCEPTED")
    check(not refused, f"submits not accepted: {dict(refused)}")
    check(
        {line["operationId"] for line in lines} == set(operation_ids),
        "submits of unknown operations, or an operation never submitted",
    )
    return len(lines)


async def _listed(api: Api, operation_id: str) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = []
    query: dict[str, Any] = {"operationId": operation_id, "pageSize": 1000}
    while True:
        page = await api.get_json("/Messages", **query)
        found += page["messages"]
        if not page["pagination"]["next"]:
            return found
        query["pageToken"] = page["pagination"]["next"]


async def check_operations(api: Api, finals: list[dict[str, Any]], recipients: int) -> None:
    """Every operation COMPLETED with its counts, and every Message listed READ, one per
    recipient (operation i was sent to recipients i × recipients onwards)."""
    for index, body in enumerate(await api.read_receipts(finals)):
        stats = body["stats"]
        counts = (stats["total"], stats["recipients"], stats["attempts"], stats["read"])
        check(body["status"] == "COMPLETED", f"{body['id']} is {body['status']}")
        check(
            counts == (recipients,) * 4,
            f"{body['id']}: total, recipients, attempts, read = {counts} for {recipients}",
        )
        listed = await _listed(api, body["id"])
        unread = [m["id"] for m in listed if m["status"] != "READ"]
        check(not unread, f"{body['id']}: {len(unread)} Messages not READ, e.g. {unread[:3]}")
        addresses = sorted(m["to"][0]["address"] for m in listed)
        first = index * recipients
        check(
            addresses == sorted(phone_number(first + i) for i in range(recipients)),
            f"{body['id']}: {len(listed)} Messages listed, not one per recipient",
        )


def _cpu(pids: list[int], database: str) -> dict[str, Any]:
    """CPU seconds so far: each opencomms process, the run's PostgreSQL backends (their
    process titles name the database), this benchmark process."""
    return {
        "opencomms": [cpu_seconds(pid=pid) for pid in pids],
        "postgresql": cpu_seconds(cmdline=f" {database} "),
        "bench": cpu_seconds(pid=os.getpid()),
    }


def _cpu_shares(before: dict[str, Any], after: dict[str, Any], seconds: float) -> dict[str, Any]:
    """The CPU used over `seconds`, as shares of one core."""
    return {
        "opencomms": [
            round((a - b) / seconds, 2)
            for a, b in zip(after["opencomms"], before["opencomms"], strict=True)
        ],
        "postgresql": round((after["postgresql"] - before["postgresql"]) / seconds, 2),
        "bench": round((after["bench"] - before["bench"]) / seconds, 2),
    }


def _parts(pids: list[int]) -> dict[str, list[int]]:
    """The processes whose CPU the budget counts: the opencomms processes, every process
    of the PostgreSQL server (its background writers too, and any other database's
    backends: on a quiet machine, none busy), this benchmark process (the client)."""
    return {"opencomms": pids, "postgresql": postgres_server_pids(), "bench": [os.getpid()]}


async def _drive(
    server: ServerProcess, outcome: Outcome, pids: list[int], params: Parameters
) -> list[str]:
    operations, recipients = params.scale_operations, params.scale_recipients
    bodies = [send_body(recipients, offset=i * recipients) for i in range(operations)]
    database = server.database_url.rpartition("/")[2]
    async with Api(server.url, server.credentials.auth) as api:
        cpu, before = _cpu(pids, database), snapshot(_parts(pids))
        started = time.monotonic()
        operation_ids = [await api.send(body) for body in bodies]
        outcome.posted_s = time.monotonic() - started

        def progress(at: float, settled: int) -> None:
            outcome.progress.append((round(at - started, 3), settled))

        finals = await api.wait_completed(
            operation_ids, within_s=params.scale_timeout_s, on_progress=progress
        )
        outcome.completed_s = time.monotonic() - started
        outcome.cpu_s = _cpu_shares(cpu, _cpu(pids, database), outcome.completed_s)
        after = snapshot(_parts(pids))
        outcome.budget = budget(before, after, outcome.messages, os.cpu_count() or 1)
        await check_operations(api, finals, recipients)
    return operation_ids


def _run(context: Context, processes: int) -> Outcome:
    params = context.params
    directory = context.directory(f"scale-out-{processes}")
    log = directory / "submits.jsonl"
    outcome = Outcome(processes, params.scale_operations * params.scale_recipients)
    with fresh_database("postgresql", directory) as url:
        server = ServerProcess(url, directory, simulator=f'submit_log = "{log}"', workers=processes)
        with server:
            wait_all_listening(server, processes)
            pids = processes_of(server, processes)
            check(len(pids) == processes, f"{len(pids)} processes running, not {processes}")
            operation_ids = asyncio.run(_drive(server, outcome, pids, params))
            outcome.peak_rss_mb = [round(peak_rss_mb(pid), 1) for pid in pids]
        outcome.submits = check_submit_log(log, operation_ids, outcome.messages)
    return outcome


def _details(outcome: Outcome) -> dict[str, Any]:
    return {
        "processes": outcome.processes,
        "messages": outcome.messages,
        "posted_s": round(outcome.posted_s, 2),
        "completed_s": round(outcome.completed_s, 2),
        "submits": outcome.submits,
        "cpu_share_of_a_core": outcome.cpu_s,
        "cpu_budget": outcome.budget,
        "peak_rss_mb": outcome.peak_rss_mb,
        "progress": outcome.progress[:: max(1, len(outcome.progress) // 50)],
    }


def _result(context: Context, engine: str, processes: int) -> Result:
    params, target = context.params, context.params.targets.scale_two_processes
    size = f"{params.scale_operations} × {params.scale_recipients:,}"
    how = "1 process (serve)" if processes == 1 else f"{processes} processes (serve --workers)"
    wanted = {1: "(the reference)", 2: f"≥ {target:g}× 1 process"}.get(processes, "(measured)")
    return Result("scale-out", engine, f"end to end {size}, {how}", "msg/s", wanted)


def _judge(results: dict[int, Result], target: float) -> None:
    """Each figure's ratio to one process; 2 processes are held to `target`; the other
    counts are measured, not judged (this machine has 2 cores)."""
    one = results.get(1)
    for processes, result in results.items():
        if result.measured is None:
            continue
        ratio = result.measured / one.measured if one and one.measured else None
        result.ratio = f"{ratio:.2f}× 1 process" if ratio is not None else ""
        result.details["ratio_to_one"] = ratio and round(ratio, 3)
        result.met = ratio is not None and ratio >= target if processes == 2 else True
    two = results.get(2)
    if two is not None and two.measured is not None and two.error is None:
        verdict = "reached" if two.met else "MISS"
        figure = two.ratio or "no 1-process figure"
        print(f"  2 processes: {figure} (target {target:g}×): {verdict}", flush=True)
        if one is not None and one.measured:
            _cores_for_target(two, target * one.measured)


def _cores_for_target(two: Result, rate: float) -> None:
    """How many cores the target rate takes at the CPU per message measured with 2
    processes (opencomms, PostgreSQL and the client together), beside the machine's
    cores and how busy they were."""
    spent = two.details.get("cpu_budget", {})
    if not spent:
        return
    needed = cores_needed(rate, spent["cpu_ms_per_message"]["together"])
    spent["cores_for_target"] = round(needed, 2)
    state = "saturated" if spent["saturated"] else "not saturated"
    print(
        f"  the target ({rate:,.0f} msg/s) takes {needed:.2f} cores at 2 processes' CPU per"
        f" message; the machine has {spent['cores']}, {spent['busy_share']:.0%} busy"
        f" during the run ({state})",
        flush=True,
    )


def run_scale_out(context: Context, engine: str) -> list[Result]:
    """One run per process count of `scale_processes`, each on a fresh database."""
    results: dict[int, Result] = {}
    for processes in context.params.scale_processes:
        result = results[processes] = _result(context, engine, processes)
        with checked(context.run, result):
            outcome = _run(context, processes)
            result.measured = outcome.rate
            result.details = _details(outcome)
            shown = {k: v for k, v in result.details.items() if k != "progress"}
            print(f"  {processes} × serve: {outcome.rate:,.0f} msg/s {shown}", flush=True)
    _judge(results, context.params.targets.scale_two_processes)
    return list(results.values())
