"""Several processes on one machine: the parent of `serve --workers N`, which starts N
`serve` children on one port and stops them together, and the worker-only process
(`serve --role worker`), which runs the background workers with no HTTP listener.

The children of `--workers N` each bind the port with SO_REUSEPORT, so the kernel spreads
new connections across them. The parent stops them all (SIGTERM, then SIGKILL after
`STOP_TIMEOUT_S`) when it is asked to stop (SIGTERM, SIGINT) or when one of them exits by
itself: the set runs whole or not at all, and the service manager that restarts the
parent restarts the set. A child whose parent is gone stops by itself."""

from __future__ import annotations

import asyncio
import logging
import os
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Sequence

from opencomms.engine.runtime import Runtime
from opencomms.sealing import WrongServerKey
from opencomms.settings import Settings
from opencomms.store.errors import StoreUnavailable

__all__ = ["WorkerStartError", "listening_socket", "run_worker", "supervise", "watch_parent"]

log = logging.getLogger(__name__)

STOP_TIMEOUT_S = 30.0  # a child's graceful stop: uvicorn's 10 s, then the dispatcher's drain
POLL_S = 0.2


def supervise(command: Sequence[str], count: int, say: Callable[[str], None]) -> int:
    """Run `count` children of `command` until a signal or the first child's exit; the
    exit code for the parent (0 after a signal, 1 when a child exited by itself)."""
    asked: list[int] = []

    def on_signal(signum: int, _frame: object) -> None:
        asked.append(signum)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, on_signal)
    # own process group: a terminal's Ctrl-C reaches the parent only, which stops each
    # child once (a second SIGINT would make uvicorn skip its graceful shutdown)
    children = [subprocess.Popen(list(command), process_group=0) for _ in range(count)]
    say(f"  started processes {', '.join(str(child.pid) for child in children)}")
    code = 0
    while not asked:
        exited = [child for child in children if child.poll() is not None]
        if exited:
            say(f"opencomms: process {exited[0].pid} exited ({exited[0].returncode}); stopping")
            code = 1
            break
        time.sleep(POLL_S)
    _stop(children)
    return code


def _stop(children: list[subprocess.Popen[bytes]]) -> None:
    for child in children:
        if child.poll() is None:
            child.send_signal(signal.SIGTERM)
    deadline = time.monotonic() + STOP_TIMEOUT_S
    for child in children:
        try:
            child.wait(timeout=max(0.0, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            log.error("process %d did not stop in %.0f s: killed", child.pid, STOP_TIMEOUT_S)
            child.kill()
            child.wait()


def watch_parent() -> None:
    """Stop this process (SIGTERM to itself, a graceful stop) once its parent is gone: a
    child of `--workers N` must not outlive its supervisor, even one killed with SIGKILL.
    A graceful stop that takes longer than STOP_TIMEOUT_S ends with SIGKILL, as the
    parent would have ended it."""
    parent = os.getppid()

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1.0)
        os.kill(os.getpid(), signal.SIGTERM)
        time.sleep(STOP_TIMEOUT_S)
        os.kill(os.getpid(), signal.SIGKILL)

    threading.Thread(target=watch, name="opencomms-parent-watch", daemon=True).start()


def listening_socket(host: str, port: int) -> socket.socket:
    """A TCP socket bound to `host:port` that other processes may bind too (SO_REUSEPORT):
    the kernel hands each new connection to one of them."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    return sock


class WorkerStartError(Exception):
    """The workers could not start: the database cannot be reached or migrated, or the
    server's key does not open its secrets."""


def run_worker(settings: Settings, announce: Callable[[str], None]) -> None:
    """The background workers without an HTTP listener, until SIGTERM or SIGINT; raises
    WorkerStartError when they cannot start."""
    asyncio.run(_work(settings, announce))


async def _work(settings: Settings, announce: Callable[[str], None]) -> None:
    stopped = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stopped.set)
    runtime = Runtime(settings, announce=announce)
    try:
        await runtime.start()
    except (OSError, StoreUnavailable, WrongServerKey) as error:
        await runtime.stop()
        raise WorkerStartError(str(error) or type(error).__name__) from None
    log.info("worker process %d started: background workers only, no HTTP", os.getpid())
    try:
        await stopped.wait()
    finally:
        await runtime.stop()
