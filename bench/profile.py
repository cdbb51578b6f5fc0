"""Profile the server during one stage of the end-to-end run, with py-spy.

    python -m bench.profile --engine sqlite --stage dispatch --seconds 20
    python -m bench.profile --engine postgresql --stage delivery --seconds 30
    python -m bench.profile --engine postgresql --stage single-sends --rate 1000

`accept`: 10,000-recipient POSTs one after another, each once the one before COMPLETED
(the summary keeps only the stacks under the POST handler); `dispatch`: from the first
POST (fan-out, dispatch, receipts, with no sink); `delivery`: after every operation is
COMPLETED, while the event outbox drains to a sink; `single-sends`: 1-recipient POSTs
offered at `--rate` a second by `bench/openloop.py` (the server pinned to core 0, the
client to core 1, as in the single-sends scenario), from the first POST. py-spy samples
the server process (every thread; idle frames dropped) and writes collapsed stacks; this
prints where the time goes: the top functions by own time, and the project's functions
by inclusive time. `--svg` also writes a flame graph (a second, equal-length recording).
"""

from __future__ import annotations

import argparse
import asyncio
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

from bench.api import Api, send_body
from bench.scenarios.single_sends import BENCH_ROOT, SERVER_CORE, openloop_command
from bench.server import ServerProcess, fresh_database
from bench.sink import SinkProcess

__all__ = ["main", "summarize"]

OPERATIONS, RECIPIENTS = 10, 10_000


def _py_spy() -> str:
    found = shutil.which("py-spy") or str(Path(sys.executable).with_name("py-spy"))
    if not Path(found).exists():
        raise SystemExit("py-spy is not installed: pip install -e '.[bench]'")
    return found


def _record(pid: int, seconds: float, output: Path, fmt: str) -> subprocess.Popen[bytes]:
    command = [_py_spy(), "record", "--pid", str(pid), "--duration", str(int(seconds))]
    command += ["--rate", "200", "--format", fmt, "--output", str(output), "--nonblocking"]
    command += ["--threads"]
    return subprocess.Popen(command, stdout=subprocess.DEVNULL)


async def _drive(
    server: ServerProcess, sink: SinkProcess | None, stage: str, record: list[str]
) -> None:
    async with Api(server.url, server.credentials.auth) as api:
        if sink is not None:
            await api.add_sink(sink.url + "/events")
        bodies = [send_body(RECIPIENTS, offset=i * RECIPIENTS) for i in range(OPERATIONS)]
        if stage == "accept":
            record.append("start")
            for body in bodies:
                await api.wait_completed([await api.send(body)], within_s=600, interval=0.05)
            return
        if stage == "dispatch":
            record.append("start")
        ids = [await api.send(body) for body in bodies]
        await api.wait_completed(ids, within_s=600)
        if stage == "delivery":
            record.append("start")


def _frame(frame: str) -> str:
    """`function (path/to/module.py:123)` → `function (module.py)`: lines merged."""
    name, _, where = frame.partition(" (")
    path = where.rsplit(":", 1)[0]
    parts = Path(path).parts
    short = "/".join(parts[parts.index("opencomms") :]) if "opencomms" in parts else parts[-1]
    return f"{name} ({short})"


def summarize(collapsed: Path, top: int = 20, focus: str = "") -> str:
    """Own time of the top functions, and inclusive time of the project's functions;
    with `focus`, only of the stacks that pass through a function of that name."""
    own: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    threads: Counter[str] = Counter()
    total = 0
    for line in collapsed.read_text().splitlines():
        stack, _, count_text = line.rpartition(" ")
        if not stack:
            continue
        count = int(count_text)
        frames = stack.split(";")
        if focus and not any(f.startswith(focus + " ") for f in frames):
            continue
        threads[frames[0]] += count
        names = [_frame(f) for f in frames[1:]]
        total += count
        if names:
            own[names[-1]] += count
        for name in set(names):
            inclusive[name] += count
    scope = f"under {focus}" if focus else "all threads"
    lines = [f"{total} samples (active, {scope})", "", "by thread:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in threads.most_common(6)]
    lines += ["", "own time:"]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in own.most_common(top)]
    lines += ["", "inclusive time, opencomms functions:"]
    ours = [(name, n) for name, n in inclusive.most_common() if "(opencomms/" in name]
    lines += [f"  {100 * n / total:5.1f}%  {name}" for name, n in ours[:top]]
    return "\n".join(lines)


def profile(engine: str, stage: str, seconds: float, output: Path, svg: bool, rate: float) -> str:
    directory = Path(tempfile.mkdtemp(prefix="opencomms-profile-"))
    collapsed = output.with_suffix(".txt")
    output.parent.mkdir(parents=True, exist_ok=True)
    with fresh_database(engine, directory) as url:
        sink = SinkProcess().start() if stage == "delivery" else None
        core = SERVER_CORE if stage == "single-sends" else None
        try:
            with ServerProcess(
                url, directory, allow_loopback_sinks=sink is not None, core=core
            ) as server:
                if stage == "single-sends":
                    _record_under_load(server, seconds, collapsed, rate)
                else:
                    _record_stage(server, sink, stage, seconds, output, svg)
        finally:
            if sink is not None:
                sink.stop()
    shutil.rmtree(directory, ignore_errors=True)
    return summarize(collapsed, focus="send_messages" if stage == "accept" else "")


def _record_stage(
    server: ServerProcess,
    sink: SinkProcess | None,
    stage: str,
    seconds: float,
    output: Path,
    svg: bool,
) -> None:
    started: list[str] = []
    loop_task = _run_in_thread(server, sink, stage, started)
    while not started:
        time.sleep(0.05)
    _record(server.pid, seconds, output.with_suffix(".txt"), "raw").wait()
    if svg:
        _record(server.pid, seconds, output.with_suffix(".svg"), "flamegraph").wait()
    loop_task.join()


def _record_under_load(server: ServerProcess, seconds: float, collapsed: Path, rate: float) -> None:
    """py-spy over `seconds` of 1-recipient POSTs offered at `rate` a second."""
    command = openloop_command(server, rate, seconds + 2)
    client = subprocess.Popen(command, cwd=BENCH_ROOT, stdout=subprocess.DEVNULL)
    try:
        _record(server.pid, seconds, collapsed, "raw").wait()
    finally:
        client.wait(timeout=seconds * 2 + 120)


def _run_in_thread(
    server: ServerProcess, sink: SinkProcess | None, stage: str, started: list[str]
) -> threading.Thread:
    thread = threading.Thread(
        target=lambda: asyncio.run(_drive(server, sink, stage, started)), daemon=True
    )
    thread.start()
    return thread


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.profile", description=__doc__)
    parser.add_argument("--engine", choices=("sqlite", "postgresql"), default="sqlite")
    parser.add_argument(
        "--stage", choices=("accept", "dispatch", "delivery", "single-sends"), default="delivery"
    )
    parser.add_argument("--seconds", type=float, default=20)
    parser.add_argument("--rate", type=float, default=1000, help="single-sends: POSTs a second")
    parser.add_argument("--output", type=Path, default=Path("bench/results/profile"))
    parser.add_argument("--svg", action="store_true", help="also write a flame graph")
    args = parser.parse_args()
    output = args.output.with_name(f"{args.output.name}-{args.engine}-{args.stage}")
    print(profile(args.engine, args.stage, args.seconds, output, args.svg, args.rate))
    print(f"\ncollapsed stacks: {output.with_suffix('.txt')}")


if __name__ == "__main__":
    main()
