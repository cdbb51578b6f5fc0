"""A freshly migrated database on each engine: the `url` and `db` fixtures of the store-level
tests (tests/store and tests/engine import them in their conftest)."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import pytest

from opencomms.store.database import Database
from opencomms.store.open import open_database
from tests.support.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


@pytest.fixture
async def db(url: str) -> AsyncIterator[Database]:
    database = await open_database(url)
    yield database
    await database.close()
