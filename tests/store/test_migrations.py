"""The Alembic migrations build exactly the schema the code describes, on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from opencomms.store.migrate import async_url, upgrade
from opencomms.store.schema import metadata
from tests.support.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async def run() -> list[object]:
        engine = create_async_engine(async_url(url))
        async with engine.connect() as connection:
            found = await connection.run_sync(compare)
        await engine.dispose()
        return found

    return asyncio.run(run())


def test_migrations_match_the_schema(empty_database: str) -> None:
    upgrade(empty_database)

    assert _differences(empty_database) == []


def test_upgrading_twice_changes_nothing(empty_database: str) -> None:
    upgrade(empty_database)
    upgrade(empty_database)

    assert _differences(empty_database) == []
