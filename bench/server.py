"""A real `opencomms serve` process on a fresh database, as an operator would run it.

Each benchmark run gets its own working directory, database (a SQLite file, or a new
PostgreSQL database dropped afterwards), account and configuration file, so no run can
see another's rows.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import asyncpg
import httpx

from bench.metrics_scrape import Figures, save_moved, scrape
from opencomms.domain.ids import new_account_sid, new_auth_token

__all__ = [
    "POSTGRES_ADMIN_URL",
    "ServerProcess",
    "cpu_seconds",
    "free_port",
    "fresh_database",
    "peak_rss_mb",
    "pinned",
    "postgres_available",
]

POSTGRES_ADMIN_URL = os.environ.get(
    "OPENCOMMS_BENCH_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/postgres"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def pinned(command: list[str], core: int | None) -> list[str]:
    """`command` pinned to one core with taskset when asked and available."""
    if core is None or shutil.which("taskset") is None:
        return command
    return ["taskset", "-c", str(core), *command]


def peak_rss_mb(pid: int) -> float:
    """The process's peak resident set (VmHWM) in MiB, from /proc: no extra dependency."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError(f"no VmHWM for process {pid}")


def cpu_seconds(*, pid: int | None = None, cmdline: str | None = None) -> float:
    """CPU time (user + system, seconds) used so far by process `pid`, or by every live
    process whose command line contains `cmdline` (a program and its forked children)."""
    ticks = os.sysconf("SC_CLK_TCK")
    total = 0
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or (pid is not None and int(entry.name) != pid):
            continue
        try:
            if cmdline is not None and cmdline not in (entry / "cmdline").read_bytes().decode(
                errors="replace"
            ).replace("\0", " "):
                continue
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except OSError:  # it exited meanwhile
            continue
        total += int(fields[11]) + int(fields[12])  # utime, stime
    return total / ticks


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(POSTGRES_ADMIN_URL, timeout=5)
    try:
        await conn.execute(statement)
    finally:
        await conn.close()


def postgres_available() -> bool:
    try:
        asyncio.run(_admin("SELECT 1"))
    except (OSError, asyncpg.PostgresError, TimeoutError):
        return False
    return True


@contextmanager
def fresh_database(engine: str, directory: Path) -> Iterator[str]:
    """The URL of a new, empty database of `engine` ("sqlite" or "postgresql")."""
    if engine == "sqlite":
        yield f"sqlite:///{directory / 'bench.db'}"
        return
    if engine != "postgresql":
        raise ValueError(f"unknown engine {engine}")
    name = "opencomms_bench_" + secrets.token_hex(4)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_ADMIN_URL.rpartition("/")[0] + "/" + name
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@dataclass(frozen=True)
class Credentials:
    account_sid: str
    auth_token: str

    @classmethod
    def fresh(cls) -> Credentials:
        return cls(new_account_sid(), new_auth_token())

    @property
    def auth(self) -> tuple[str, str]:
        return (self.account_sid, self.auth_token)


def _config(
    directory: Path,
    allow_loopback_sinks: bool,
    extra: str = "",
    simulator: str = "",
    public_url: str = "",
) -> Path:
    """The operator TOML of a benchmark run: a simulator with zero receipt latency (and the
    `simulator` lines, e.g. `throughput = 500`), `[server] public_url` when given (where
    a provider's test peer posts its webhooks), and `extra` (connectors, senders, pools)
    after it."""
    lines = ["[simulator]", "receipt_latency_ms = [0, 0]", *simulator.splitlines(), "", "[server]"]
    lines.append(f'secret_key_file = "{directory / "opencomms.key"}"')
    if public_url:
        lines.append(f'public_url = "{public_url}"')
    if allow_loopback_sinks:
        lines.append('allowed_callback_networks = ["127.0.0.0/8"]')
    path = directory / "opencomms.toml"
    path.write_text("\n".join(lines) + "\n\n" + extra)
    return path


class ServerProcess:
    """`python -m opencomms serve` on a free port, with fresh credentials."""

    def __init__(
        self,
        database_url: str,
        directory: Path,
        *,
        credentials: Credentials | None = None,
        allow_loopback_sinks: bool = False,
        core: int | None = None,
        config: str = "",
        simulator: str = "",
        env: dict[str, str] | None = None,
        public_url: bool = False,
        workers: int = 1,
    ) -> None:
        """`public_url`: the server's own URL is its `[server] public_url` (providers'
        webhooks come to it); `workers` above 1: `serve --workers N` (PostgreSQL)."""
        self.database_url = database_url
        self.directory = directory
        self.credentials = credentials or Credentials.fresh()
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self._config = _config(
            directory, allow_loopback_sinks, config, simulator, self.url if public_url else ""
        )
        self._env = env or {}
        self._core = core
        self._workers = workers
        self._log = directory / f"serve-{self.port}.log"
        self._process: subprocess.Popen[bytes] | None = None
        self._metrics_before: Figures = {}

    @property
    def pid(self) -> int:
        if self._process is None:
            raise RuntimeError("the server is not started")
        return self._process.pid

    def start(self, timeout: float = 60) -> ServerProcess:
        env = {
            **os.environ,
            "OPENCOMMS_ACCOUNT_SID": self.credentials.account_sid,
            "OPENCOMMS_AUTH_TOKEN": self.credentials.auth_token,
            "OPENCOMMS_CONFIG": str(self._config),
            **self._env,
        }
        command = [sys.executable, "-m", "opencomms", "serve", "--port", str(self.port)]
        command += ["--database-url", self.database_url]
        if self._workers > 1:
            command += ["--workers", str(self._workers)]
        with self._log.open("ab") as log:
            self._process = subprocess.Popen(
                pinned(command, self._core),
                cwd=self.directory,
                env=env,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        self._wait_ready(timeout)
        self._metrics_before = scrape(self.url)
        return self

    def _wait_ready(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._process is not None and self._process.poll() is not None:
                raise RuntimeError(f"opencomms serve exited:\n{self.log_tail()}")
            try:
                if httpx.get(self.url + "/healthz", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            time.sleep(0.05)
        raise RuntimeError(f"opencomms serve did not become ready:\n{self.log_tail()}")

    def log_tail(self, size: int = 3000) -> str:
        return self._log.read_text(errors="replace")[-size:] if self._log.exists() else ""

    def peak_rss_mb(self) -> float:
        return peak_rss_mb(self.pid)

    def stop(self) -> None:
        if self._process is None or self._process.poll() is not None:
            return
        save_moved(self.directory, self.port, self._metrics_before, scrape(self.url))
        self._process.terminate()
        try:
            self._process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()

    def __enter__(self) -> ServerProcess:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()
