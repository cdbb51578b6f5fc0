"""Bringing a database to the newest schema with Alembic, from code or the CLI.

A migration that seals stored secrets needs the server's key: it is handed to Alembic
as `config.attributes["sealer"]`, never written into the configuration."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from alembic.config import Config

from opencomms.sealing import Sealer

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


def alembic_config(database_url: str, sealer: Sealer | None = None) -> Config:
    config = Config()
    config.set_main_option("script_location", str(_SCRIPTS))
    config.set_main_option("sqlalchemy.url", async_url(database_url).replace("%", "%%"))
    if sealer is not None:
        config.attributes["sealer"] = sealer
    return config


def upgrade(database_url: str, sealer: Sealer | None = None) -> None:
    """Apply every migration not yet applied (blocking; run it in a thread from async code).
    `sealer`: the server's, for migrations that seal stored secrets."""
    command.upgrade(alembic_config(database_url, sealer), "head")
