"""The auth token is shown once, when its account is created: later starts of `opencomms
serve` name the account only, and `opencomms rotate-token` prints a new token once."""

from __future__ import annotations

import os
import re
import stat
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import database_url
from tests.support.process import ServeProcess

TOKEN = re.compile(r"\b[0-9a-f]{32}\b")


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def _serve_once(url: str, workdir: Path, env: dict[str, str]) -> str:
    """Start `opencomms serve`, stop it, and return what this start printed."""
    log = workdir / "serve.log"
    before = log.read_text() if log.exists() else ""
    server = ServeProcess(url, workdir, env).start()
    server.stop()
    return log.read_text()[len(before) :]


def _rotate(url: str, workdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opencomms", "rotate-token", "--database-url", url, *options],
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCOMMS_")},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_the_token_is_printed_at_the_first_start_only(db_url: str, tmp_path: Path) -> None:
    sid, token = new_account_sid(), new_auth_token()
    env = {"OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token}

    first = _serve_once(db_url, tmp_path, env)
    second = _serve_once(db_url, tmp_path, env)

    assert token in first, first
    assert first.count(token) == 1
    assert sid in second, second
    assert token not in second, second
    assert "OPENCOMMS_AUTH_TOKEN" in second  # where the credentials are


def test_rotate_token_prints_a_new_token_once_and_the_old_one_stops_working(
    db_url: str, tmp_path: Path
) -> None:
    sid, token = new_account_sid(), new_auth_token()
    env_file = tmp_path / "opencomms.env"
    env_file.write_text(f"OPENCOMMS_ACCOUNT_SID={sid}\nOPENCOMMS_AUTH_TOKEN={token}\n")
    env = {"OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token}
    server = ServeProcess(db_url, tmp_path, env).start()
    try:
        rotated = _rotate(db_url, tmp_path, "--account-sid", sid, "--env-file", str(env_file))
        assert rotated.returncode == 0, rotated.stderr
        (new_token,) = set(TOKEN.findall(rotated.stdout))
        assert new_token != token
        assert rotated.stdout.count(new_token) == 1
        with httpx.Client(base_url=server.url + "/v1", timeout=30) as client:
            assert client.get("/Senders", auth=(sid, token)).status_code == 401
            assert client.get("/Senders", auth=(sid, new_token)).status_code == 200
    finally:
        server.stop()
    assert f"OPENCOMMS_AUTH_TOKEN={new_token}\n" in env_file.read_text()
    assert f"OPENCOMMS_ACCOUNT_SID={sid}\n" in env_file.read_text()
    assert stat.S_IMODE(env_file.stat().st_mode) == 0o600
    # the next start with the updated file prints neither token
    later = _serve_once(db_url, tmp_path, {**env, "OPENCOMMS_AUTH_TOKEN": new_token})
    assert sid in later
    assert new_token not in later
    assert token not in later


def test_a_start_with_a_token_that_was_rotated_says_so(db_url: str, tmp_path: Path) -> None:
    sid, token = new_account_sid(), new_auth_token()
    env = {"OPENCOMMS_ACCOUNT_SID": sid, "OPENCOMMS_AUTH_TOKEN": token}
    _serve_once(db_url, tmp_path, env)
    assert _rotate(db_url, tmp_path, "--account-sid", sid).returncode == 0

    stale = _serve_once(db_url, tmp_path, env)

    assert "is not the auth token of account " + sid in stale
    assert token not in stale


def test_rotate_token_of_an_unknown_account_fails_and_prints_no_token(
    db_url: str, tmp_path: Path
) -> None:
    rotated = _rotate(db_url, tmp_path, "--account-sid", new_account_sid())

    assert rotated.returncode == 1
    assert "there is no account" in rotated.stderr
    assert not TOKEN.findall(rotated.stdout + rotated.stderr)
