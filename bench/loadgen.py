"""The accept-rate load client: N connections POSTing 1-recipient sends for D seconds.

Run as a separate process (`python -m bench.loadgen URL SID TOKEN --connections 32
--seconds 10`), pinned to the core the server is not on; it prints one JSON object:
the operation ids accepted, the count of every other answer, and the latencies. It uses
aiohttp, whose client costs about a third of httpx's per request, so that one core of
client can drive more requests than one core of server can answer.
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import time
from collections import Counter

import aiohttp
import msgspec

from bench.api import send_body

__all__ = ["LoadResult", "main", "run_load"]


class LoadResult(msgspec.Struct):
    seconds: float
    accepted: list[str]
    statuses: dict[str, int]  # every answer other than 202, by status (or exception name)
    latencies_ms: list[float]


async def _worker(
    session: aiohttp.ClientSession,
    url: str,
    body: bytes,
    deadline: float,
    result: LoadResult,
    failures: Counter[str],
) -> None:
    headers = {"Content-Type": "application/json"}
    while time.monotonic() < deadline:
        started = time.perf_counter()
        try:
            async with session.post(url, data=body, headers=headers) as response:
                payload = await response.read()
                status = response.status
        except aiohttp.ClientError as error:
            failures[type(error).__name__] += 1
            continue
        result.latencies_ms.append((time.perf_counter() - started) * 1000)
        if status == 202:
            result.accepted.append(msgspec.json.decode(payload)["operationId"])
        else:
            failures[str(status)] += 1


async def run_load(
    base_url: str, auth: tuple[str, str], *, connections: int, seconds: float
) -> LoadResult:
    """POST 1-recipient sends from `connections` keep-alive connections for `seconds`."""
    body = send_body(1)
    connector = aiohttp.TCPConnector(limit=connections)
    result = LoadResult(seconds=0, accepted=[], statuses={}, latencies_ms=[])
    failures: Counter[str] = Counter()
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, auth=aiohttp.BasicAuth(*auth), timeout=timeout
    ) as session:
        url = base_url + "/v1/Messages"
        started = time.monotonic()
        deadline = started + seconds
        await asyncio.gather(
            *(_worker(session, url, body, deadline, result, failures) for _ in range(connections))
        )
        result.seconds = time.monotonic() - started
    result.statuses = dict(failures)
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description="accept-rate load client")
    parser.add_argument("url")
    parser.add_argument("account_sid")
    parser.add_argument("auth_token")
    parser.add_argument("--connections", type=int, default=32)
    parser.add_argument("--seconds", type=float, default=10)
    args = parser.parse_args()
    result = asyncio.run(
        run_load(
            args.url,
            (args.account_sid, args.auth_token),
            connections=args.connections,
            seconds=args.seconds,
        )
    )
    sys.stdout.buffer.write(msgspec.json.encode(result))


if __name__ == "__main__":
    main()
