"""Several `opencomms serve` processes on one fresh PostgreSQL database, as an operator
runs them: one secret key, one account, each its own directory; and who holds which
ownership lease, read from the database."""

from __future__ import annotations

import asyncio
import base64
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import asyncpg

from opencomms.domain.ids import new_account_sid, new_auth_token
from tests.support.process import ServeProcess


@contextmanager
def serve_processes(
    url: str, tmp_path: Path, count: int, env: dict[str, str] | None = None
) -> Iterator[tuple[list[ServeProcess], tuple[str, str]]]:
    """`count` processes started one after the other (each its own directory), and the
    account they share; stopped at the end."""
    sid, token = new_account_sid(), new_auth_token()
    shared = {
        "OPENCOMMS_ACCOUNT_SID": sid,
        "OPENCOMMS_AUTH_TOKEN": token,
        "OPENCOMMS_SECRET_KEY": base64.urlsafe_b64encode(secrets.token_bytes(32)).decode(),
        "OPENCOMMS_ALLOWED_CALLBACK_NETWORKS": "127.0.0.0/8,::1/128",
        **(env or {}),
    }
    processes: list[ServeProcess] = []
    try:
        for index in range(count):
            workdir = tmp_path / f"process{index}"
            workdir.mkdir()
            processes.append(ServeProcess(url, workdir, shared).start())
        yield processes, (sid, token)
    finally:
        for process in processes:
            process.stop()


def lease_holder(url: str, name: str) -> int | None:
    """The pid of the process that holds the lease `name` (not run out), if one does."""

    async def read() -> int | None:
        conn = await asyncpg.connect(url)
        try:
            owner = await conn.fetchval(
                "SELECT owner FROM ownership_leases WHERE name = $1"
                " AND expires_at > (extract(epoch from clock_timestamp()) * 1000)::bigint",
                name,
            )
        finally:
            await conn.close()
        return None if owner is None else int(owner.split(":")[1])

    return asyncio.run(read())


def count_rows(url: str, sql: str) -> int:
    async def read() -> int:
        conn = await asyncpg.connect(url)
        try:
            return int(await conn.fetchval(sql))
        finally:
            await conn.close()

    return asyncio.run(read())
