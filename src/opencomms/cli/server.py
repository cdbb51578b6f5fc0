"""The commands that run the server side: `serve` (all, or one role: `--role api|worker`;
`--workers N` processes) and `migrate`."""

from __future__ import annotations

import logging
import sys
from enum import StrEnum
from urllib.parse import urlsplit, urlunsplit

import typer
import uvicorn

from opencomms.api.http_limits import BoundedConfig
from opencomms.app import create_app
from opencomms.cli.processes import (
    WorkerStartError,
    listening_socket,
    run_worker,
    supervise,
    watch_parent,
)
from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.sealing import server_sealer
from opencomms.settings import Settings, SettingsError, load_settings
from opencomms.store.migrate import upgrade
from opencomms.store.open import refuse_if_in_use
from opencomms.store.sqlite import SqliteInUse

__all__ = ["migrate", "serve"]


class Role(StrEnum):
    ALL = "all"
    API = "api"
    WORKER = "worker"


ROLE_OPTION = typer.Option(
    Role.ALL,
    "--role",
    help="all: the API and the background workers; api: the HTTP API and webhooks"
    " only; worker: the background workers only, with no HTTP listener.",
)


def serve(
    host: str | None = typer.Option(None, show_default="127.0.0.1", help="Address to listen on."),
    port: int | None = typer.Option(None, show_default="8080", help="Port to listen on."),
    database_url: str | None = typer.Option(
        None, "--database-url", help="sqlite:///path.db or postgresql://user@host:port/db."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Operator TOML file (OPENCOMMS_CONFIG)."
    ),
    role: Role = ROLE_OPTION,
    workers: int = typer.Option(
        1,
        "--workers",
        min=1,
        help="Processes of this role to run, sharing the port (PostgreSQL only).",
    ),
    supervised: bool = typer.Option(False, "--supervised", hidden=True),
) -> None:
    """Run the API and its workers (the embedded default), or one role of them; with
    --workers N, N such processes on this machine."""
    settings = _settings(
        config, overrides={"host": host, "port": port, "database_url": database_url}
    )
    server = settings.server
    if not server.database_url.startswith(("postgresql:", "postgres:")) and (
        workers > 1 or role is not Role.ALL
    ):
        typer.echo(
            "opencomms: --workers above 1 and --role api|worker need PostgreSQL: a SQLite"
            " database is served by one process, which runs the API and the workers"
            " (`opencomms serve`)",
            err=True,
        )
        raise typer.Exit(2)
    _refuse_if_in_use(server.database_url)
    _configure_logging()
    if supervised:
        watch_parent()
    else:
        _banner(settings, role, workers)
    if workers > 1:
        command = _child_command(host, port, database_url, config, role)
        raise typer.Exit(supervise(command, workers, typer.echo))
    if role is Role.WORKER:
        _work(settings)
        return
    _serve_http(settings, background=role is Role.ALL, reuse_port=supervised)


def _configure_logging() -> None:
    logging.basicConfig(
        level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s"
    )
    # httpx says every request at INFO: one line per message an HTTP connector sends
    # (5-12% of the server's time in bench-connectors); its warnings still show
    logging.getLogger("httpx").setLevel(logging.WARNING)
    # aiosmtpd (the smtp connector's bounce listener) says every SMTP command at INFO
    logging.getLogger("mail.log").setLevel(logging.WARNING)


def _work(settings: Settings) -> None:
    try:
        run_worker(settings, typer.echo)
    except WorkerStartError as error:
        typer.echo(f"opencomms: the workers could not start: {error}", err=True)
        raise typer.Exit(1) from None


def _settings(config: str | None, overrides: dict[str, object]) -> Settings:
    try:
        return load_settings(config, overrides=overrides, connector_types=CONNECTOR_TYPES)
    except SettingsError as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(2) from None


def _refuse_if_in_use(database_url: str) -> None:
    """A SQLite database another server holds: say so, and stop."""
    try:
        refuse_if_in_use(database_url)
    except SqliteInUse as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(1) from None


def _banner(settings: Settings, role: Role, workers: int) -> None:
    server = settings.server
    where = f"http://{server.host}:{server.port}" if role is not Role.WORKER else "no HTTP"
    processes = f", {workers} processes" if workers > 1 else ""
    typer.echo(f"opencomms {role} ({where}{processes}) on {_without_password(server.database_url)}")
    if settings.account_sid:
        # the token is shown once, when its account is created (create_app's announce)
        typer.echo(
            f"  Account SID: {settings.account_sid} (auth token: OPENCOMMS_AUTH_TOKEN;"
            " `opencomms rotate-token` makes a new one)"
        )


def _without_password(database_url: str) -> str:
    """The URL as shown on the terminal: a password in it is replaced by `***`."""
    parts = urlsplit(database_url)
    if parts.password is None:
        return database_url
    host = parts.netloc.rpartition("@")[2]
    return urlunsplit(parts._replace(netloc=f"{parts.username or ''}:***@{host}"))


def _child_command(
    host: str | None, port: int | None, database_url: str | None, config: str | None, role: Role
) -> list[str]:
    """One child of `--workers N`: the same options, one process, under a parent."""
    command = [sys.executable, "-m", "opencomms", "serve", "--role", role, "--supervised"]
    for option, value in (
        ("--host", host),
        ("--port", port),
        ("--database-url", database_url),
        ("--config", config),
    ):
        if value is not None:
            command += [option, str(value)]
    return command


def _serve_http(settings: Settings, *, background: bool, reuse_port: bool) -> None:
    """uvicorn on the configured address; `reuse_port`: sharing it with sibling
    processes."""
    server = settings.server
    bounded = BoundedConfig(
        create_app(settings, announce=typer.echo, background=background),
        settings.http,
        host=server.host,
        port=server.port,
        log_level="warning",
        lifespan="on",
        timeout_graceful_shutdown=10,
    )
    sockets = [listening_socket(server.host, server.port)] if reuse_port else None
    uvicorn.Server(bounded).run(sockets=sockets)


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
