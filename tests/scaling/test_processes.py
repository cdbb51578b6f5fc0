"""Several real processes on one PostgreSQL database: `serve --workers 2` answers on one
port from two processes and completes an operation; an API-only process and a
worker-only process complete one together; SQLite refuses more than one process."""

from __future__ import annotations

import collections
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.cli.processes import STOP_TIMEOUT_S
from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import fresh_postgres
from tests.support.polling import operation, send, wait_completed, wait_until
from tests.support.process import ServeProcess

pytestmark = pytest.mark.slow

RECIPIENTS = 200
LISTEN, ESTABLISHED = "0A", "01"


def _children(pid: int) -> list[int]:
    found = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                stat = (entry / "stat").read_text()
            except OSError:
                continue
            if int(stat.rpartition(")")[2].split()[1]) == pid:
                found.append(int(entry.name))
    return sorted(found)


def _sockets(pid: int, port: int, state: str) -> set[int]:
    """The inodes of the TCP sockets `pid` holds on local `port` in `state`."""
    on_port = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if int(fields[1].rpartition(":")[2], 16) == port and fields[3] == state:
                on_port.add(int(fields[9]))
    held = set()
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            target = os.readlink(fd)
        except OSError:
            continue
        if target.startswith("socket:["):
            held.add(int(target[8:-1]))
    return on_port & held


def _alive(pid: int) -> bool:
    """Running (a zombie, exited but not yet reaped, is not)."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rpartition(")")[2].split()[0] != "Z"


@pytest.fixture
def account(tmp_path: Path) -> Iterator[tuple[str, str, dict[str, str]]]:
    """A fresh PostgreSQL database, and the env that makes its account and logs submits."""
    sid, token = new_account_sid(), new_auth_token()
    with fresh_postgres() as url:
        yield (
            url,
            sid,
            {
                "OPENCOMMS_ACCOUNT_SID": sid,
                "OPENCOMMS_AUTH_TOKEN": token,
                "OPENCOMMS_SIMULATOR_SUBMIT_LOG": str(tmp_path / "submits.jsonl"),
            },
        )


def _recipients() -> list[dict[str, str]]:
    return [{"address": f"+1415555{1000 + i:04d}", "channel": "PHONE"} for i in range(RECIPIENTS)]


def _assert_each_attempt_submitted_once(tmp_path: Path, operation_id: str) -> None:
    lines = (tmp_path / "submits.jsonl").read_text().splitlines()
    submits = [json.loads(line) for line in lines]
    per_attempt = collections.Counter(line["attemptId"] for line in submits)
    assert len(per_attempt) == RECIPIENTS
    assert max(per_attempt.values()) == 1
    assert {line["operationId"] for line in submits} == {operation_id}


def test_serve_workers_2_answers_on_one_port_from_two_processes(
    account: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    url, sid, env = account
    server = ServeProcess(url, tmp_path, env, options=["--workers", "2"]).start()
    try:
        children = wait_until(
            lambda: (found := _children(server.pid)) and len(found) == 2 and found
        )
        wait_until(lambda: all(_sockets(pid, server.port, LISTEN) for pid in children))
        # connections kept open: the kernel spread them over both listeners
        clients = [httpx.Client(base_url=server.url, timeout=10) for _ in range(16)]
        for client in clients:
            assert client.get("/healthz").status_code == 200
        serving = {pid for pid in children if _sockets(pid, server.port, ESTABLISHED)}
        for client in clients:
            client.close()
        api = httpx.Client(base_url=server.url + "/v1", auth=(sid, env["OPENCOMMS_AUTH_TOKEN"]))
        operation_id = send(api, {"to": _recipients(), "content": {"text": "Hi"}})
        final = wait_completed(api, operation_id)
    finally:
        stopped = server.stop()

    assert serving == set(children)
    assert final["stats"]["total"] == RECIPIENTS
    _assert_each_attempt_submitted_once(tmp_path, operation_id)
    assert stopped, "SIGTERM to the parent stops the set"
    assert not any(_alive(pid) for pid in children)


def test_an_api_process_and_a_worker_process_complete_an_operation(
    account: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    url, sid, env = account
    api_process = ServeProcess(url, tmp_path, env, options=["--role", "api"]).start()
    worker: subprocess.Popen[bytes] | None = None
    try:
        api = httpx.Client(
            base_url=api_process.url + "/v1", auth=(sid, env["OPENCOMMS_AUTH_TOKEN"])
        )
        operation_id = send(api, {"to": _recipients(), "content": {"text": "Hi"}})
        time.sleep(1.0)  # five of a worker's idle polls: none runs in an API process
        alone = operation(api, operation_id)
        worker = subprocess.Popen(
            [sys.executable, "-m", "opencomms", "serve", "--role", "worker"],
            cwd=tmp_path,
            env={**os.environ, **env, "OPENCOMMS_DATABASE_URL": url},
        )
        final = wait_completed(api, operation_id)
        worker_listens = _sockets(worker.pid, api_process.port, LISTEN)
    finally:
        api_process.stop()
        if worker is not None:
            worker.terminate()
            worker_code = worker.wait(timeout=60)

    # the API process runs no background worker: nothing was fanned out before the worker
    assert alone["stats"]["total"] == 0, alone
    assert final["stats"]["total"] == RECIPIENTS
    _assert_each_attempt_submitted_once(tmp_path, operation_id)
    assert worker_listens == set()
    assert worker_code == 0


@pytest.mark.parametrize("options", [["--workers", "2"], ["--role", "worker"]])
def test_more_than_one_process_on_sqlite_is_refused(options: list[str], tmp_path: Path) -> None:
    database = tmp_path / "opencomms.db"
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "opencomms",
            "serve",
            "--database-url",
            f"sqlite:///{database}",
            *options,
        ],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCOMMS_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )

    assert result.returncode == 2
    assert "need PostgreSQL" in result.stderr
    assert not database.exists()


def test_a_child_that_dies_stops_the_set_and_a_dead_parent_stops_its_children(
    account: tuple[str, str, dict[str, str]], tmp_path: Path
) -> None:
    url, _, env = account
    first = ServeProcess(url, tmp_path, env, options=["--workers", "2"]).start()
    children = wait_until(lambda: (found := _children(first.pid)) and len(found) == 2 and found)
    os.kill(children[0], signal.SIGKILL)
    stopped = first.wait(timeout=60)
    second = ServeProcess(url, tmp_path, env, options=["--workers", "2"]).start()
    orphans = wait_until(lambda: (found := _children(second.pid)) and len(found) == 2 and found)
    second.kill()
    try:
        # each notices within a second, then stops gracefully, killed after STOP_TIMEOUT_S
        within = 1 + STOP_TIMEOUT_S + 10
        wait_until(lambda: not any(_alive(pid) for pid in orphans), timeout=within)
    finally:
        for pid in orphans:
            if _alive(pid):
                os.kill(pid, signal.SIGKILL)

    assert stopped == 1, "the parent says the set stopped because a process died"
    assert not _alive(children[1])
    assert "exited" in first.log_text()


def test_a_worker_that_cannot_reach_its_database_says_so_without_its_password(
    tmp_path: Path,
) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "opencomms", "serve", "--role", "worker",
         "--database-url", "postgresql://opencomms:hunter2@127.0.0.1:1/opencomms"],
        cwd=tmp_path,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCOMMS_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )  # fmt: skip

    assert result.returncode == 1
    assert "the workers could not start" in result.stderr
    assert "postgresql://opencomms:***@127.0.0.1:1/opencomms" in result.stdout
    assert "hunter2" not in result.stdout + result.stderr


# A child whose graceful stop hangs (it ignores SIGTERM), left alone by a parent that exits
ORPHAN = """
import os, signal, subprocess, sys, time
if sys.argv[1] == "parent":
    pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.DEVNULL}
    child = subprocess.Popen([sys.executable, "-c", sys.argv[2], "child"], **pipes)
    child.stdout.readline()  # it watches this process now
    print(child.pid, flush=True)
    sys.exit(0)
from opencomms.cli import processes
processes.STOP_TIMEOUT_S = 1.0
signal.signal(signal.SIGTERM, signal.SIG_IGN)
processes.watch_parent()
print("watching", flush=True)
time.sleep(120)
"""


def test_an_orphan_whose_graceful_stop_hangs_is_killed() -> None:
    parent = subprocess.run(
        [sys.executable, "-c", ORPHAN, "parent", ORPHAN],
        capture_output=True, text=True, timeout=60, check=True,
    )  # fmt: skip
    orphan = int(parent.stdout.split()[0])
    try:
        wait_until(lambda: not _alive(orphan), timeout=30)
    finally:
        if _alive(orphan):
            os.kill(orphan, signal.SIGKILL)
