"""4. read-path: with 1,000,000 Messages stored, `GET` of the operation (p50, p99) and
1,000-message pages of `GET /v1/Messages?operationId=…` down to depth 500.

Seeding through the API would take minutes, so the rows are inserted with the driver,
cloned from a small operation the server itself sent (bench/rows.py); the operation's
counters are scaled to match, so its stats stay consistent. Every page of the walk is
checked: full, of this operation, ids strictly descending across the whole walk.
"""

from __future__ import annotations

import asyncio
import statistics
import time
from typing import Any

import asyncpg

from bench.api import Api
from bench.report import Result
from bench.rows import capture_template, clone_messages, insert_rows, operation_row
from bench.scenarios import Context, check, checked, percentile
from bench.server import Credentials, ServerProcess, fresh_database
from opencomms.domain.ids import new_operation_id

__all__ = ["run_read_path"]

WARMUP_GETS = 50


def _seed(url: str, directory: Any, credentials: Credentials, messages: int) -> dict[str, Any]:
    template = capture_template(url, directory, credentials)
    operation_id = new_operation_id()
    started = time.perf_counter()
    insert_rows(
        url,
        "operations",
        template.operation_columns,
        [operation_row(template, operation_id, messages)],
    )
    inserted = insert_rows(
        url,
        "messages",
        template.message_columns,
        clone_messages(template, operation_id, messages),
    )
    check(inserted == messages, f"seeded {inserted} Messages of {messages}")
    if url.startswith("postgresql"):
        asyncio.run(_analyze(url))  # what autovacuum would do within a minute of the load
    elapsed = time.perf_counter() - started
    return {
        "operation_id": operation_id,
        "seed_s": round(elapsed, 1),
        "seed_rows_per_s": round(messages / elapsed),
    }


async def _analyze(url: str) -> None:
    conn = await asyncpg.connect(url)
    try:
        await conn.execute("ANALYZE messages")
        await conn.execute("ANALYZE operations")
    finally:
        await conn.close()


async def _timed_get(api: Api, path: str, **params: Any) -> tuple[float, Any]:
    started = time.perf_counter()
    body = await api.get_json(path, **params)
    return (time.perf_counter() - started) * 1000, body


async def _operation_gets(api: Api, operation_id: str, count: int, messages: int) -> list[float]:
    path = f"/Messages/Operations/{operation_id}"
    for _ in range(WARMUP_GETS):
        await api.get_json(path)
    times = []
    for _ in range(count):
        elapsed, body = await _timed_get(api, path)
        times.append(elapsed)
    stats = body["stats"]
    check(body["status"] == "COMPLETED", f"the seeded operation is {body['status']}")
    check(stats["total"] == stats["recipients"] == messages, f"seeded stats are wrong: {stats}")
    return times


async def _walk(
    api: Api, query: dict[str, Any], depth: int, operation_id: str
) -> tuple[list[float], list[str | None]]:
    """Pages 0..depth of the list, following tokens; each page's time, and the token that
    reaches it. Each page must be full, of the seeded operation, below the one before."""
    times: list[float] = []
    tokens: list[str | None] = [None]
    previous = "comms_message_~"
    for page in range(depth + 1):
        params = query | ({"pageToken": tokens[page]} if tokens[page] else {})
        elapsed, body = await _timed_get(api, "/Messages", **params)
        times.append(elapsed)
        ids = [m["id"] for m in body["messages"]]
        size = query["pageSize"]
        check(len(ids) == size, f"page {page} has {len(ids)} Messages, not {size}")
        check(ids == sorted(ids, reverse=True) and ids[0] < previous, f"page {page} out of order")
        check(
            all(m["related"][0]["id"] == operation_id for m in body["messages"]),
            f"page {page} has Messages of another operation",
        )
        previous = ids[-1]
        tokens.append(body["pagination"]["next"])
    return times, tokens


async def _pages(
    api: Api, query: dict[str, Any], depth: int, operation_id: str, repeats: int
) -> dict[str, Any]:
    """Walk the list down to `depth`, then time the page at a few depths again (median
    of `repeats`): the walk shows every depth once, the repeats take the noise out."""
    walk, tokens = await _walk(api, query, depth, operation_id)
    medians = {}
    for sampled in sorted({d for d in (0, 1, 10, 100, 250, depth) if d <= depth}):
        params = query | ({"pageToken": tokens[sampled]} if tokens[sampled] else {})
        times = [(await _timed_get(api, "/Messages", **params))[0] for _ in range(repeats)]
        medians[sampled] = round(statistics.median(times), 2)
    return {
        "by_depth_ms": medians,
        "walk_pages": len(walk),
        "walk_p50_ms": round(percentile(walk, 0.5), 1),
        "walk_p99_ms": round(percentile(walk, 0.99), 1),
        "walk_max_ms": round(max(walk), 1),
        "deepest_token": tokens[depth],
    }


async def _measure(
    server: ServerProcess, context: Context, seeded: dict[str, Any]
) -> dict[str, Any]:
    params = context.params
    operation_id = seeded["operation_id"]
    size, repeats = params.read_page_size, params.read_repeats
    depth = min(params.read_depth, params.read_messages // size - 1)
    async with Api(server.url, server.credentials.auth) as api:
        gets = await _operation_gets(
            api, operation_id, params.read_operation_gets, params.read_messages
        )
        by_operation = {"operationId": operation_id, "pageSize": size}
        operation_pages = await _pages(api, by_operation, depth, operation_id, repeats)
        account_pages = await _pages(api, {"pageSize": size}, depth, operation_id, repeats)
        token = operation_pages.pop("deepest_token") or ""
        account_pages.pop("deepest_token")
        deep = await api.get_json("/Messages", **by_operation, pageToken=token)
        fetched = await api.get_json(f"/Messages/{deep['messages'][-1]['id']}")
        check(fetched["status"] == "READ", f"a seeded Message reads as {fetched['status']}")
    return {
        "operation_p50_ms": round(percentile(gets, 0.5), 2),
        "operation_p99_ms": round(percentile(gets, 0.99), 2),
        "depth": depth,
        "page_at_depth_ms": operation_pages["by_depth_ms"][depth],
        "operation_list": operation_pages,
        "account_list": account_pages,
    }


def run_read_path(context: Context, engine: str) -> list[Result]:
    params, targets = context.params, context.params.targets
    size = f"{params.read_messages:,} stored"
    operation = Result(
        "read-path", engine, f"GET operation, {size}, p50", "ms",
        f"p50 ≤ {targets.operation_p50_ms:.0f} ms",
    )  # fmt: skip
    page = Result(
        "read-path", engine, f"page of {params.read_page_size:,}, any depth (worst)", "ms",
        f"≤ {targets.page_ms:.0f} ms",
    )  # fmt: skip
    with checked(context.run, operation, page):
        directory = context.directory(f"read-{engine}")
        credentials = Credentials.fresh()
        with fresh_database(engine, directory) as url:
            seeded = _seed(url, directory, credentials, params.read_messages)
            print(f"  read-path {engine}: seeded {seeded}", flush=True)
            with ServerProcess(url, directory, credentials=credentials) as server:
                figures = asyncio.run(_measure(server, context, seeded)) | seeded
        operation.measured = figures["operation_p50_ms"]
        operation.met = operation.measured <= targets.operation_p50_ms
        page.measured = max(
            *figures["operation_list"]["by_depth_ms"].values(),
            *figures["account_list"]["by_depth_ms"].values(),
        )
        page.met = page.measured <= targets.page_ms
        operation.details = page.details = figures
        print(f"  read-path {engine}: {figures}", flush=True)
    return [operation, page]
