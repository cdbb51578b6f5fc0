"""A deleted API key and a rotated auth token stop working in every process within the
credentials cache's lifetime (api/auth.py's CACHE_SECONDS), not only in the process that
revoked them. Two real processes on one PostgreSQL database."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.api.auth import CACHE_SECONDS
from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import fresh_postgres
from tests.support.process import ServeProcess

pytestmark = pytest.mark.slow

# the bound, and what a busy machine may add to it (a request's own time, the poll)
BOUND_S = CACHE_SECONDS + 1.0


@pytest.fixture
def two_processes(tmp_path: Path) -> Iterator[tuple[str, tuple[str, str], list[ServeProcess]]]:
    sid, token = new_account_sid(), new_auth_token()
    key = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    env = {"OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token, "OPENCOMMS_SECRET_KEY": key}
    with fresh_postgres() as url:
        started: list[ServeProcess] = []
        try:
            for name in ("a", "b"):
                (tmp_path / name).mkdir()
                process = ServeProcess(url, tmp_path / name, env, options=["--role", "api"])
                started.append(process.start())
            yield url, (sid, token), started
        finally:
            for process in started:
                process.stop()


def _status(process: ServeProcess, auth: tuple[str, str]) -> int:
    return httpx.get(process.url + "/v1/Messages", auth=auth, timeout=10).status_code


def _refused_after(process: ServeProcess, auth: tuple[str, str], since: float) -> float:
    """Seconds from `since` until `process` refuses `auth` (polling; gives up at 30 s)."""
    while _status(process, auth) != 401:
        assert time.monotonic() - since < 30, "the revoked credential is still taken"
        time.sleep(0.05)
    return time.monotonic() - since


def test_a_key_deleted_through_one_process_is_refused_by_the_other_within_the_bound(
    two_processes: tuple[str, tuple[str, str], list[ServeProcess]],
) -> None:
    _, account, (first, second) = two_processes
    created = httpx.post(first.url + "/v1/ApiKeys", auth=account, timeout=10)
    assert created.status_code == 201, created.text
    key = (created.json()["sid"], created.json()["secret"])
    assert _status(second, key) == 200  # the second process has it verified, and cached

    deleted = httpx.delete(f"{first.url}/v1/ApiKeys/{key[0]}", auth=account, timeout=10)
    revoked_at = time.monotonic()

    assert deleted.status_code == 204
    assert _status(first, key) == 401
    assert _refused_after(second, key, revoked_at) <= BOUND_S


def test_a_rotated_token_is_refused_by_every_process_within_the_bound(
    two_processes: tuple[str, tuple[str, str], list[ServeProcess]], tmp_path: Path
) -> None:
    url, account, processes = two_processes
    for process in processes:
        assert _status(process, account) == 200

    rotated = subprocess.run(
        [sys.executable, "-m", "opencomms", "rotate-token", "--account-sid", account[0]],
        cwd=tmp_path / "a",
        env={**os.environ, **processes[0].env, "OPENCOMMS_DATABASE_URL": url},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    revoked_at = time.monotonic()

    assert rotated.returncode == 0, rotated.stderr
    new_token = rotated.stdout.rpartition(": ")[2].strip()
    for process in processes:
        assert _refused_after(process, account, revoked_at) <= BOUND_S
        assert _status(process, (account[0], new_token)) == 200
