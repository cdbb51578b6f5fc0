"""A database that times each transaction, by mode and intent (the store function's
qualified name, a bounded set: one per call site)."""

from __future__ import annotations

import time
from typing import Any, TypeVar

from opencomms.metrics.instruments import DATABASE_SECONDS
from opencomms.store.database import Database, Dialect, Intent

__all__ = ["TimedDatabase"]

T = TypeVar("T")


def _kind(intent: Intent[Any]) -> str:
    function = getattr(intent, "func", intent)  # a functools.partial: the function it calls
    return str(getattr(function, "__qualname__", type(function).__name__))


class TimedDatabase:
    def __init__(self, inner: Database) -> None:
        self.inner = inner
        self.dialect: Dialect = inner.dialect

    async def write(self, intent: Intent[T]) -> T:
        started = time.perf_counter()
        try:
            return await self.inner.write(intent)
        finally:
            elapsed = time.perf_counter() - started
            DATABASE_SECONDS.labels("write", _kind(intent)).observe(elapsed)

    async def read(self, query: Intent[T]) -> T:
        started = time.perf_counter()
        try:
            return await self.inner.read(query)
        finally:
            elapsed = time.perf_counter() - started
            DATABASE_SECONDS.labels("read", _kind(query)).observe(elapsed)

    async def close(self) -> None:
        await self.inner.close()

    def __getattr__(self, name: str) -> Any:
        """What else the engine's database offers (its pool, its notifications...)."""
        return getattr(self.inner, name)
