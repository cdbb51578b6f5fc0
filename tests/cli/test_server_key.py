"""A server whose key cannot open the secrets in its database (another process sealed
them with another key) stops at the start and says why, rather than run and fail on
every callback it signs and every sink it takes over."""

from __future__ import annotations

import base64
import secrets
from collections.abc import Iterator
from pathlib import Path

import pytest

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.databases import database_url
from tests.support.process import ServeProcess

REFUSAL = "this server's key does not open the secrets sealed in the database"


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def _key() -> str:
    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def _env(key: str) -> dict[str, str]:
    return {
        "OPENCOMMS_ACCOUNT_SID": new_account_sid(),
        "OPENCOMMS_AUTH_TOKEN": new_auth_token(),
        "OPENCOMMS_SECRET_KEY": key,
    }


def _refused(url: str, workdir: Path, options: tuple[str, ...] = ()) -> str:
    """What a server with another key than the first one's printed as it stopped."""
    first = _env(_key())
    ServeProcess(url, workdir, first).start().stop()  # seals the account's secrets
    other_key = {**first, "OPENCOMMS_SECRET_KEY": _key()}
    other = ServeProcess(url, workdir, other_key, options=options)
    with pytest.raises(RuntimeError, match="opencomms serve exited") as refused:
        other.start()
    return str(refused.value)


def test_a_server_with_another_key_stops_and_says_why(db_url: str, tmp_path: Path) -> None:
    assert REFUSAL in _refused(db_url, tmp_path)


def test_a_worker_process_with_another_key_stops_and_says_why(tmp_path: Path) -> None:
    with database_url("postgresql", str(tmp_path)) as url:
        printed = _refused(url, tmp_path, ("--role", "worker"))
    assert "the workers could not start: " + REFUSAL in printed


def test_a_server_with_the_same_key_starts(db_url: str, tmp_path: Path) -> None:
    env = _env(_key())
    ServeProcess(db_url, tmp_path, env).start().stop()
    ServeProcess(db_url, tmp_path, env).start().stop()
