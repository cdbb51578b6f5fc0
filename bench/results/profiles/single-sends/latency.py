"""POST → SENT latency of sequential one-recipient sends on an idle server (issue 14).

    PYTHONPATH=src:. python bench/results/profiles/single-sends/latency.py sqlite 200

Starts a real `opencomms serve` (simulator, no latency) on a fresh database, sends one
1-recipient POST at a time and polls its operation every POLL_S until a Message of it is
SENT (or further: delivered, read); prints the p50, p90, p99 and max in ms as JSON. With
`--profile out.svg`, py-spy records the server during the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.api import Api, send_body
from bench.server import ServerProcess, fresh_database

POLL_S = 0.001
PASSED_SENT = ("sent", "delivered", "read")
PY_SPY = "/work/main/.venv/bin/py-spy"


async def _one(api: Api, offset: int) -> float:
    started = time.perf_counter()
    operation_id = await api.send(send_body(1, offset))
    while True:
        stats = (await api.operation(operation_id))["stats"]
        if any(stats.get(status, 0) for status in PASSED_SENT):
            return (time.perf_counter() - started) * 1000
        await asyncio.sleep(POLL_S)


async def _run(server: ServerProcess, count: int) -> list[float]:
    async with Api(server.url, server.credentials.auth) as api:
        for warm in range(5):
            await _one(api, 100_000 + warm)
        return [await _one(api, index) for index in range(count)]


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def main(engine: str, count: int, profile: str | None) -> None:
    with (
        tempfile.TemporaryDirectory() as directory,
        fresh_database(engine, Path(directory)) as url,
        ServerProcess(url, Path(directory)) as server,
    ):
        recorder = None
        if profile:
            command = [PY_SPY, "record", "--pid", str(server.pid), "--output", profile,
                       "--idle", "--threads", "--duration", "600"]  # fmt: skip
            formats = {".json": "speedscope", ".txt": "raw"}
            command += ["--format", formats.get(Path(profile).suffix, "flamegraph")]
            recorder = subprocess.Popen(command, stdout=subprocess.DEVNULL)
            time.sleep(1)
        took = asyncio.run(_run(server, count))
        if recorder is not None:
            recorder.send_signal(2)
            recorder.wait(60)
    figures = {
        "engine": engine,
        "sends": count,
        "p50_ms": round(statistics.median(took), 1),
        "p90_ms": round(_percentile(took, 0.90), 1),
        "p99_ms": round(_percentile(took, 0.99), 1),
        "max_ms": round(max(took), 1),
    }
    print(json.dumps(figures))


if __name__ == "__main__":
    parser = argparse.ArgumentParser()
    parser.add_argument("engine", choices=["sqlite", "postgresql"])
    parser.add_argument("count", type=int)
    parser.add_argument("--profile", help="a py-spy output: .svg, or .json (speedscope)")
    arguments = parser.parse_args()
    main(arguments.engine, arguments.count, arguments.profile)
