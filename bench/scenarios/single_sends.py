"""single-sends (issue 14): one-recipient POSTs at fixed offered rates, and one at a time.

For each offered rate (500, 1,000, 2,000 a second and the maximum), on a fresh server
and database: `bench/openloop.py` offers 1-recipient POSTs for `single_seconds` from its
own process (server pinned to core 0, client to core 1), then every accepted operation
is waited for until COMPLETED. Reported: the accepted rate (202s a second of offering),
the completed rate (operations COMPLETED a second, from the first POST to the last
completion, so the drain counts), its share of the accepted rate (target ≥ 95 %), the
backlog over time (answered 202 but not yet SENT, and not yet COMPLETED: the chart) and
POST → SENT percentiles. SENT is when the simulator took the submit (its submit log,
written as it takes it, before the SENT row is stored); a POST's time is when it was due.
Then the idle run: sequential sends, each after the previous one COMPLETED, POST → SENT
p50 ≤ 20 ms and p99 ≤ 100 ms.
"""

from __future__ import annotations

import asyncio
import bisect
import subprocess
import sys
import time
from datetime import datetime
from pathlib import Path
from typing import Any

import msgspec

from bench.api import Api, BenchFailure, send_body
from bench.openloop import OpenLoopResult
from bench.params import Parameters
from bench.report import Result
from bench.scenarios import Context, check, checked, percentile
from bench.server import ServerProcess, fresh_database, pinned

__all__ = ["run_single_sends"]

SERVER_CORE = 0
CLIENT_CORE = 1
BACKLOG_POINTS = 240  # samples of the backlog chart per run
ALLOWED_REFUSALS = ("429", "503")  # an honest "not now"; anything else fails the run


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _server(url: str, directory: Path, core: int | None = SERVER_CORE) -> ServerProcess:
    log = directory / "submits.jsonl"
    return ServerProcess(url, directory, core=core, simulator=f'submit_log = "{log}"')


def _submitted(log: Path) -> dict[str, list[float]]:
    """Operation id → the times of its submits, from the simulator's log."""
    decoder = msgspec.json.Decoder(dict[str, str])
    found: dict[str, list[float]] = {}
    for line in log.read_bytes().splitlines() if log.exists() else []:
        try:
            submit = decoder.decode(line)
        except msgspec.DecodeError as error:
            raise BenchFailure(f"a torn line in the submit log: {error}") from None
        check(submit["result"] == "ACCEPTED", f"a submit not accepted: {submit}")
        found.setdefault(submit["operationId"], []).append(_epoch(submit["at"]))
    return found


BENCH_ROOT = Path(__file__).resolve().parents[2]  # where `python -m bench.openloop` runs


def openloop_command(server: ServerProcess, rate: float, seconds: float) -> list[str]:
    """`bench/openloop.py` offering 1-recipient POSTs to `server` at `rate` a second for
    `seconds`, pinned to the client's core (run it with `cwd=BENCH_ROOT`)."""
    command = [sys.executable, "-m", "bench.openloop", server.url, *server.credentials.auth]
    command += ["--rate", str(rate), "--seconds", str(seconds)]
    return pinned(command, CLIENT_CORE)


def _load(server: ServerProcess, rate: float, params: Parameters) -> OpenLoopResult:
    command = openloop_command(server, rate, params.single_seconds)
    command += ["--connections", str(params.single_connections)]
    command += ["--in-flight", str(params.single_in_flight)]
    timeout = params.single_seconds * 2 + 120
    completed = subprocess.run(
        command, capture_output=True, check=True, cwd=BENCH_ROOT, timeout=timeout
    )
    return msgspec.json.decode(completed.stdout, type=OpenLoopResult)


async def _completed(server: ServerProcess, within_s: float) -> list[dict[str, Any]]:
    """Every operation of the account, once none is PROCESSING any more."""
    async with Api(server.url, server.credentials.auth) as api:
        deadline = time.monotonic() + within_s
        while True:
            page = await api.get_json("/Messages/Operations", status="PROCESSING", pageSize=1)
            if not page["operations"]:
                listed = await api.operations()
                await _no_failure(api, listed)
                return listed
            if time.monotonic() > deadline:
                raise BenchFailure(f"operations still PROCESSING after {within_s} s")
            await asyncio.sleep(0.25)


async def _no_failure(api: Api, listed: list[dict[str, Any]]) -> None:
    """A failed Message fails the run, named with its error."""
    failed = [body["id"] for body in listed if body["stats"]["failed"]]
    named = []
    for operation_id in failed[:3]:
        page = await api.get_json("/Messages", operationId=operation_id)
        for message in page["messages"]:
            error = message["error"] or {}
            named.append(f"{message['id']} of {operation_id}: {message['status']},")
            named[-1] += f" error {error.get('code')} {error.get('message')!r}"
    if failed:
        raise BenchFailure(f"{len(failed)} operations have a FAILED Message: {'; '.join(named)}")


def _check_run(
    load: OpenLoopResult, listed: list[dict[str, Any]], submits: dict[str, list[float]]
) -> None:
    """Every accepted id listed once and COMPLETED with its one Message, submitted once;
    nothing stored or submitted that was not accepted."""
    refused = {k: v for k, v in load.statuses.items() if k not in ALLOWED_REFUSALS}
    check(not refused, f"answers other than 202, 429 and 503: {refused}")
    accepted = [operation_id for operation_id, _, _ in load.accepted]
    check(bool(accepted), "no request was accepted")
    check(len(set(accepted)) == len(accepted), "an operation id was answered twice")
    by_id = {body["id"]: body for body in listed}
    check(len(by_id) == len(listed) == len(accepted), f"{len(listed)} stored, {len(accepted)} 202s")
    missing = set(accepted) - set(by_id)
    check(not missing, f"{len(missing)} accepted operations are missing, e.g. {list(missing)[:3]}")
    for body in listed:
        stats = body["stats"]
        check(body["status"] == "COMPLETED", f"{body['id']} is {body['status']}")
        check(stats["total"] == stats["attempts"] == 1, f"{body['id']}: {stats}")
        check(stats["failed"] == stats["undelivered"] == 0, f"{body['id']}: {stats}")
    twice = [op for op, times in submits.items() if len(times) != 1]
    check(not twice, f"{len(twice)} operations submitted more than once, e.g. {twice[:3]}")
    check(set(submits) == set(accepted), "a submit of an unknown operation, or one never made")


class _Open:
    """How many operations are between their 202 and a later moment (SENT, COMPLETED) at
    a time: [202, end) intervals, never negative."""

    def __init__(self, intervals: list[tuple[float, float]]) -> None:
        kept = [(start, end) for start, end in intervals if start < end]
        self.starts = sorted(start for start, _ in kept)
        self.ends = sorted(end for _, end in kept)

    def at(self, moment: float) -> int:
        return bisect.bisect_right(self.starts, moment) - bisect.bisect_right(self.ends, moment)


def _backlog(
    load: OpenLoopResult, sent: dict[str, float], completed: dict[str, float], start: float
) -> list[tuple[float, int, int]]:
    """(seconds since the first POST, operations answered 202 and not yet SENT, not yet
    COMPLETED)."""
    unsent = _Open([(answered, sent[op]) for op, _, answered in load.accepted])
    open_ = _Open([(answered, completed[op]) for op, _, answered in load.accepted])
    end = max(completed.values())
    step = max((end - start) / BACKLOG_POINTS, 0.05)
    points = []
    for index in range(int((end - start) / step) + 2):
        at = start + index * step
        points.append((round(index * step, 3), unsent.at(at), open_.at(at)))
    return points


def _percentiles(values: list[float]) -> dict[str, float]:
    return {f"p{p}": round(percentile(values, p / 100), 1) for p in (50, 95, 99)}


def _figures(
    load: OpenLoopResult, listed: list[dict[str, Any]], submits: dict[str, list[float]]
) -> dict[str, Any]:
    due = sorted(at for _, at, _ in load.accepted)
    sent_at = {op: times[0] for op, times in submits.items()}
    completed_at = {body["id"]: _epoch(body["updatedAt"]) for body in listed}
    completed = sorted(completed_at.values())
    start = due[0]
    offered_until = start + load.offering_s
    to_sent = [(submits[op][0] - at) * 1000 for op, at, _ in load.accepted]
    to_202 = [(answered - at) * 1000 for _, at, answered in load.accepted]
    backlog = _backlog(load, sent_at, completed_at, start)
    return {
        "offered_rps": round(load.sent / load.offering_s, 1),
        "skipped": load.skipped,
        "refused": load.statuses,
        "accepted": len(due),
        "accepted_rps": round(len(due) / load.offering_s, 1),
        # from the first POST to the last completion, or the end of the offering if later
        "completed_rps": round(len(completed) / (max(completed[-1], offered_until) - start), 1),
        "completed_while_offering_rps": round(
            bisect.bisect_right(completed, offered_until) / load.offering_s, 1
        ),
        "offering_s": round(load.offering_s, 2),
        "drain_s": round(max(0.0, completed[-1] - offered_until), 2),
        "post_to_sent_ms": _percentiles(to_sent),
        "post_to_202_ms": _percentiles(to_202),
        "max_backlog_unsent": max(point[1] for point in backlog),
        "backlog": backlog,
    }


def _at_rate(context: Context, engine: str, rate: float) -> None:
    params, share = context.params, context.params.targets.single_completed_share
    label = f"{rate:,.0f}/s" if rate else "maximum"
    result = Result(
        "single-sends",
        engine,
        f"1-recipient POSTs, {label} offered, {params.single_seconds:g} s: completed ÷ accepted",
        "%",
        f"≥ {share:.0%}",
    )
    with checked(context.run, result):
        directory = context.directory(f"single-{engine}-{rate:g}")
        with fresh_database(engine, directory) as url, _server(url, directory) as server:
            load = _load(server, rate, params)
            listed = asyncio.run(_completed(server, params.single_drain_timeout_s))
        submits = _submitted(directory / "submits.jsonl")
        _check_run(load, listed, submits)
        result.details = {"rate": rate, **_figures(load, listed, submits)}
        measured = result.details["completed_rps"] / result.details["accepted_rps"]
        result.measured = round(measured * 100, 1)
        result.met = measured >= share
        shown = {k: v for k, v in result.details.items() if k != "backlog"}
        print(f"  single-sends {engine} {label}: {result.measured} % {shown}", flush=True)


async def _sequential(server: ServerProcess, sends: int) -> dict[str, float]:
    """Operation id → when it was POSTed, each POST after the previous one COMPLETED;
    one warm-up first, not counted."""
    posted: dict[str, float] = {}
    async with Api(server.url, server.credentials.auth) as api:
        for index in range(sends + 1):
            at = time.time()
            operation_id = await api.send(send_body(1, index))
            await api.wait_completed([operation_id], within_s=60, interval=0.005)
            if index:
                posted[operation_id] = at
    return posted


def _idle(context: Context, engine: str) -> None:
    targets = context.params.targets
    result = Result(
        "single-sends",
        engine,
        "idle server: POST → SENT of sequential single sends, p50 (p99 in details)",
        "ms",
        f"p50 ≤ {targets.single_idle_p50_ms:.0f} ms, p99 ≤ {targets.single_idle_p99_ms:.0f} ms",
    )
    with checked(context.run, result):
        directory = context.directory(f"single-{engine}-idle")
        with fresh_database(engine, directory) as url, _server(url, directory, None) as server:
            posted = asyncio.run(_sequential(server, context.params.single_idle_sends))
        submits = _submitted(directory / "submits.jsonl")
        check(all(len(submits.get(op, [])) == 1 for op in posted), "a send not submitted once")
        latencies = [(submits[op][0] - at) * 1000 for op, at in posted.items()]
        p50, p99 = percentile(latencies, 0.5), percentile(latencies, 0.99)
        result.measured = round(p50, 1)
        result.met = p50 <= targets.single_idle_p50_ms and p99 <= targets.single_idle_p99_ms
        result.details = {
            "sends": len(latencies),
            "p50_ms": round(p50, 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "p99_ms": round(p99, 1),
            "max_ms": round(max(latencies), 1),
        }
        print(f"  single-sends {engine} idle: {result.details}", flush=True)


def run_single_sends(context: Context, engine: str) -> None:
    _idle(context, engine)
    for rate in context.params.single_rates:
        _at_rate(context, engine, rate)
