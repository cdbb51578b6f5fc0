"""1. accept-10k: the latency of one 10,000-recipient POST until its 202.
2. accept-rate: 1-recipient POSTs from 32 connections for 10 s; every accepted operation
must exist afterwards, and complete. It measures the accept path alone, so the server
runs with pacing off (`[limits] pace_small_sends_at = 0`): paced, the sends would be
taken at the rate they drain, which is what single-sends measures."""

from __future__ import annotations

import asyncio
import statistics
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

import msgspec

from bench.api import Api, BenchFailure, send_body
from bench.loadgen import LoadResult
from bench.report import Result
from bench.scenarios import Context, check, checked, percentile
from bench.server import ServerProcess, fresh_database, pinned

__all__ = ["run_accept_10k", "run_accept_rate"]

SERVER_CORE = 0
CLIENT_CORE = 1
UNPACED = "[limits]\npace_small_sends_at = 0\n"


def _check_operation(body: dict[str, Any], recipients: int) -> None:
    stats = body["stats"]
    check(body["status"] == "COMPLETED", f"{body['id']} is {body['status']}")
    check(
        stats["total"] == stats["recipients"] == recipients,
        f"{body['id']}: total {stats['total']}, recipients {stats['recipients']}",
    )
    counted = sum(stats[s] for s in ("queued", "sent", "delivered", "read", "failed"))
    check(counted == recipients, f"{body['id']}: statuses sum to {counted}, not {recipients}")
    check(stats["read"] == recipients, f"{body['id']}: {stats['read']} READ of {recipients}")


async def _accept_runs(server: ServerProcess, recipients: int, runs: int) -> list[float]:
    """Latencies (ms) of `runs` POSTs, each after the previous operation COMPLETED, so
    every POST meets an idle server; one warm-up POST first."""
    body = send_body(recipients)
    latencies: list[float] = []
    async with Api(server.url, server.credentials.auth) as api:
        for index in range(runs + 1):
            started = time.perf_counter()
            operation_id = await api.send(body)
            elapsed = (time.perf_counter() - started) * 1000
            if index:
                latencies.append(elapsed)
            [final] = await api.wait_completed([operation_id], within_s=120, interval=0.05)
            [final] = await api.read_receipts([final])
            _check_operation(final, recipients)
    return latencies


def run_accept_10k(context: Context, engine: str) -> Result:
    params, targets = context.params, context.params.targets
    result = Result(
        "accept-10k",
        engine,
        f"POST {params.accept_recipients:,} recipients → 202, median",
        "ms",
        f"≤ {targets.accept_median_ms:.0f} ms",
    )
    with checked(context.run, result):
        directory = context.directory(f"accept-{engine}")
        with fresh_database(engine, directory) as url, ServerProcess(url, directory) as server:
            latencies = asyncio.run(
                _accept_runs(server, params.accept_recipients, params.accept_runs)
            )
        result.measured = statistics.median(latencies)
        result.met = result.measured <= targets.accept_median_ms
        result.details = {
            "runs": len(latencies),
            "median_ms": round(result.measured, 1),
            "p95_ms": round(percentile(latencies, 0.95), 1),
            "min_ms": round(min(latencies), 1),
            "max_ms": round(max(latencies), 1),
            "body_bytes": len(send_body(params.accept_recipients)),
        }
        print(f"  accept-10k {engine}: {result.details}", flush=True)
    return result


def _load(server: ServerProcess, connections: int, seconds: float) -> LoadResult:
    """The load client in its own process, on the other core."""
    command = [sys.executable, "-m", "bench.loadgen", server.url, *server.credentials.auth]
    command += ["--connections", str(connections), "--seconds", str(seconds)]
    root = Path(__file__).resolve().parents[2]
    completed = subprocess.run(
        pinned(command, CLIENT_CORE), capture_output=True, check=True, cwd=root, timeout=300
    )
    return msgspec.json.decode(completed.stdout, type=LoadResult)


async def _drain(api: Api, within_s: float) -> float:
    """Seconds until no operation is PROCESSING any more."""
    started = time.monotonic()
    while time.monotonic() - started < within_s:
        page = await api.get_json("/Messages/Operations", status="PROCESSING", pageSize=1)
        if not page["operations"]:
            return time.monotonic() - started
        await asyncio.sleep(0.5)
    raise BenchFailure(f"operations still PROCESSING after {within_s} s")


async def _verify_rate(server: ServerProcess, load: LoadResult, within_s: float) -> dict[str, Any]:
    async with Api(server.url, server.credentials.auth) as api:
        listed = {o["id"]: o for o in await api.operations()}
        missing = set(load.accepted) - set(listed)
        check(not missing, f"{len(missing)} accepted operations are missing, e.g. {missing}")
        check(len(set(load.accepted)) == len(load.accepted), "an operation id was answered twice")
        check(len(listed) == len(load.accepted), f"{len(listed)} stored, {len(load.accepted)} 202s")
        drained = await _drain(api, within_s)
        final = await api.operations()
        for _ in range(60):  # READ receipts may trail the COMPLETED: give them 30 s
            if all(o["stats"]["read"] == o["stats"]["total"] for o in final):
                break
            await asyncio.sleep(0.5)
            final = await api.operations()
        for body in final:
            _check_operation(body, 1)
        statuses = Counter(o["status"] for o in final)
    return {"drain_s": round(drained, 1), "statuses_after": dict(statuses)}


def run_accept_rate(context: Context, engine: str) -> Result:
    params, targets = context.params, context.params.targets
    result = Result(
        "accept-rate",
        engine,
        f"1-recipient POSTs, {params.rate_connections} connections",
        "req/s",
        f"≥ {targets.accept_rate_rps:,.0f} req/s",
    )
    with checked(context.run, result):
        directory = context.directory(f"rate-{engine}")
        with (
            fresh_database(engine, directory) as url,
            ServerProcess(url, directory, core=SERVER_CORE, config=UNPACED) as server,
        ):
            load = _load(server, params.rate_connections, params.rate_seconds)
            check(not load.statuses, f"answers other than 202: {load.statuses}")
            check(bool(load.accepted), "no request was accepted")
            verified = asyncio.run(_verify_rate(server, load, params.rate_drain_timeout_s))
        result.measured = len(load.accepted) / load.seconds
        result.met = result.measured >= targets.accept_rate_rps
        result.details = {
            "accepted": len(load.accepted),
            "seconds": round(load.seconds, 2),
            "p50_ms": round(percentile(load.latencies_ms, 0.5), 1),
            "p99_ms": round(percentile(load.latencies_ms, 0.99), 1),
            "pinned": "server core 0, client core 1 (taskset)",
            **verified,
        }
        print(f"  accept-rate {engine}: {result.measured:,.0f} req/s {result.details}", flush=True)
    return result
