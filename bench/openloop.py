"""The single-sends load client: 1-recipient POSTs at a fixed offered rate (open loop).

Run as a separate process (`python -m bench.openloop URL SID TOKEN --rate 1000
--seconds 60`), pinned to the core the server is not on; it prints one JSON object. The
i-th request is due at start + i / rate whatever the server answers (an open loop: a
slow server meets the same offered load, and its latency counts from the time a request
was due, so waiting for a connection counts too). At most `--in-flight` requests are
out at once, over `--connections` keep-alive connections (the server allows 100 per
client); a request due while that many are out is not sent and is counted `skipped`, so
that the offered rate reported is the one really offered. `--rate 0`: the maximum, each
connection POSTing as soon as its last answer came (a closed loop).
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

__all__ = ["OpenLoopResult", "main", "run_open_loop"]

HEADERS = {"Content-Type": "application/json"}


class OpenLoopResult(msgspec.Struct):
    rate: float  # offered per second; 0: as fast as the connections go
    seconds: float  # from the first request due to the last answer
    offering_s: float  # from the first request due to the last one sent
    sent: int
    skipped: int  # due while --in-flight requests were out: not sent
    # (operation id, due at, answered at), times in seconds since the epoch
    accepted: list[tuple[str, float, float]]
    statuses: dict[str, int]  # every answer other than 202, by status (or exception name)


class _Client:
    def __init__(self, session: aiohttp.ClientSession, url: str) -> None:
        self.session = session
        self.url = url
        self.body = send_body(1)
        self.result = OpenLoopResult(0, 0, 0, 0, 0, [], {})
        self.failures: Counter[str] = Counter()
        self.in_flight = 0

    async def post(self, due: float) -> None:
        """One POST due at `due` (time.time()); its answer recorded."""
        self.in_flight += 1
        self.result.sent += 1
        try:
            async with self.session.post(self.url, data=self.body, headers=HEADERS) as answer:
                payload = await answer.read()
                status = answer.status
        except aiohttp.ClientError as error:
            self.failures[type(error).__name__] += 1
            return
        finally:
            self.in_flight -= 1
        if status == 202:
            operation_id = msgspec.json.decode(payload)["operationId"]
            self.result.accepted.append((operation_id, due, time.time()))
        else:
            self.failures[str(status)] += 1


async def _offer(client: _Client, rate: float, seconds: float, in_flight: int) -> None:
    """Start the i-th POST at start + i / rate until `seconds` have passed."""
    tasks: set[asyncio.Task[None]] = set()
    started = time.time()
    total = int(rate * seconds)
    index = 0
    while index < total:
        now = time.time()
        while index < total and started + index / rate <= now:
            if client.in_flight >= in_flight:
                client.result.skipped += 1
            else:
                task = asyncio.ensure_future(client.post(started + index / rate))
                tasks.add(task)
                task.add_done_callback(tasks.discard)
            index += 1
        if index < total:
            await asyncio.sleep(max(0.0, started + index / rate - time.time()))
    client.result.offering_s = time.time() - started
    await asyncio.gather(*tasks)


async def _closed(client: _Client, seconds: float, connections: int) -> None:
    """Each connection POSTs as soon as its last answer came, for `seconds`."""
    started = time.time()
    deadline = started + seconds

    async def worker() -> None:
        while time.time() < deadline:
            await client.post(time.time())

    await asyncio.gather(*(worker() for _ in range(connections)))
    client.result.offering_s = time.time() - started


async def run_open_loop(
    base_url: str,
    auth: tuple[str, str],
    *,
    rate: float,
    seconds: float,
    connections: int = 64,
    in_flight: int = 512,
) -> OpenLoopResult:
    connector = aiohttp.TCPConnector(limit=connections)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(
        connector=connector, auth=aiohttp.BasicAuth(*auth), timeout=timeout
    ) as session:
        client = _Client(session, base_url + "/v1/Messages")
        started = time.time()
        if rate > 0:
            await _offer(client, rate, seconds, in_flight)
        else:
            await _closed(client, seconds, connections)
        client.result.seconds = time.time() - started
    client.result.rate = rate
    client.result.statuses = dict(client.failures)
    return client.result


def main() -> None:
    parser = argparse.ArgumentParser(description="single-sends load client (open loop)")
    parser.add_argument("url")
    parser.add_argument("account_sid")
    parser.add_argument("auth_token")
    parser.add_argument("--rate", type=float, required=True, help="per second; 0: maximum")
    parser.add_argument("--seconds", type=float, default=60)
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--in-flight", type=int, default=512)
    args = parser.parse_args()
    result = asyncio.run(
        run_open_loop(
            args.url,
            (args.account_sid, args.auth_token),
            rate=args.rate,
            seconds=args.seconds,
            connections=args.connections,
            in_flight=args.in_flight,
        )
    )
    sys.stdout.buffer.write(msgspec.json.encode(result))


if __name__ == "__main__":
    main()
