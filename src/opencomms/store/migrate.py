"""Bringing a database to the newest schema with Alembic, from code or the CLI."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

__all__ = ["alembic_config", "async_url", "upgrade"]

_SCRIPTS = Path(__file__).parent / "migrations"


def async_url(database_url: str) -> str:
    """The SQLAlchemy async URL for one of the URLs of the contract."""
    if database_url.startswith("sqlite:"):
        return "sqlite+aiosqlite:" + database_url.removeprefix("sqlite:")
    for prefix in ("postgresql:", "postgres:"):
        if database_url.startswith(prefix):
            return "postgresql+asyncpg:" + database_url.removeprefix(prefix)
    raise ValueError(f"unsupported database URL: {database_url}")


def alembic_config(database_url: str) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    return config


def upgrade(database_url: str) -> None:
    """Apply every migration not yet applied (blocking; run it in a thread from async code)."""
    command.upgrade(alembic_config(database_url), "head")
