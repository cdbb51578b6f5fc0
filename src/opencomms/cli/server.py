"""The commands that run the server side: `serve` and `migrate`."""

from __future__ import annotations

import logging

import typer
import uvicorn

from opencomms.api.http_limits import BoundedConfig
from opencomms.app import create_app
from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.sealing import server_sealer
from opencomms.settings import SettingsError, load_settings
from opencomms.store.migrate import upgrade
from opencomms.store.open import refuse_if_in_use
from opencomms.store.sqlite import SqliteInUse

__all__ = ["migrate", "serve"]


def serve(
    host: str | None = typer.Option(None, show_default="127.0.0.1", help="Address to listen on."),
    port: int | None = typer.Option(None, show_default="8080", help="Port to listen on."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="sqlite:///path.db or postgresql://user@host:port/db."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Operator TOML file (OPENCOMMS_CONFIG)."
    ),
) -> None:
    """Run the API and its workers in one process (the embedded default)."""
    try:
        settings = load_settings(
            config,
            overrides={"host": host, "port": port, "database_url": database_url},
            connector_types=CONNECTOR_TYPES,
        )
    except SettingsError as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(2) from None
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    server = settings.server
    try:
        refuse_if_in_use(server.database_url)
    except SqliteInUse as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"opencomms serving on http://{server.host}:{server.port} ({server.database_url})")
    if settings.account_sid:
        # the token is shown once, when its account is created (create_app's announce)
        typer.echo(
            f"  Account SID: {settings.account_sid} (auth token: OPENCOMMS_AUTH_TOKEN;"
            " `opencomms rotate-token` makes a new one)"
        )
    bounded = BoundedConfig(
        create_app(settings, announce=typer.echo),
        settings.http,
        host=server.host,
        port=server.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    uvicorn.Server(bounded).run()


def migrate(
    database_url: str | None = typer.Option(None, "--database-url", help="Database to migrate."),
    config: str | None = typer.Option(
        None, "--config", help="Operator TOML file (OPENCOMMS_CONFIG): the database and key."
    ),
) -> None:
    """Bring the database to the newest schema (with the server's key, which seals the
    stored secrets)."""
    try:
        settings = load_settings(
            config, overrides={"database_url": database_url}, connector_types=CONNECTOR_TYPES
        )
    except SettingsError as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(2) from None
    server = settings.server
    try:
        upgrade(server.database_url, server_sealer(server.secret_key, server.secret_key_file))
    except RuntimeError as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(1) from None
    typer.echo(f"migrated {server.database_url}")
