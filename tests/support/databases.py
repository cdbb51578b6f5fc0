"""The databases the suite runs against: a SQLite file, and a fresh PostgreSQL database.

PostgreSQL is at 127.0.0.1:5432 with trust auth on the development and CI machines
(OPENCOMMS_TEST_POSTGRES_URL overrides). Locally, without it, PostgreSQL tests skip; in
CI (CI is set) its absence is a failure, never a skip.
"""

from __future__ import annotations

import asyncio
import os
import secrets
from collections.abc import Iterator
from contextlib import contextmanager

import asyncpg
import pytest

ADMIN_URL = os.environ.get(
    "OPENCOMMS_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test"
)


def _with_database(url: str, name: str) -> str:
    base, _, _ = url.rpartition("/")
    return f"{base}/{name}"


async def _admin(statement: str) -> None:
    conn = await asyncpg.connect(ADMIN_URL, timeout=5)
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


def require_postgres() -> None:
    if not postgres_available():
        if os.environ.get("CI"):
            pytest.fail(f"PostgreSQL is required in CI and is not reachable at {ADMIN_URL}")
        pytest.skip(f"PostgreSQL is not reachable at {ADMIN_URL}")


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new, empty database for one test session, dropped afterwards."""
    require_postgres()
    name = "opencomms_test_" + secrets.token_hex(4)
    asyncio.run(_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield _with_database(ADMIN_URL, name)
    finally:
        asyncio.run(_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@contextmanager
def database_url(backend: str, directory: str) -> Iterator[str]:
    if backend == "postgresql":
        with fresh_postgres() as url:
            yield url
    else:
        yield f"sqlite:///{directory}/opencomms.db"
