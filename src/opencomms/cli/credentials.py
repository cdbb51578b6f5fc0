"""An account's credentials: `credentials` makes a new pair, `rotate-token` replaces an
account's auth token. Each token is printed once, when it is made; the server keeps only
its digest (and a copy sealed with the server's key, to sign status callbacks)."""

from __future__ import annotations

import asyncio
import os
import re
from pathlib import Path

import typer

from opencomms.connectors.registry import CONNECTOR_TYPES
from opencomms.domain.ids import new_account_sid, new_auth_token
from opencomms.sealing import server_sealer
from opencomms.settings import Settings, SettingsError, load_settings
from opencomms.store import accounts
from opencomms.store.open import open_database

__all__ = ["credentials", "rotate_token"]

_TOKEN_LINE = re.compile(r"^OPENCOMMS_AUTH_TOKEN=.*$", re.MULTILINE)


def credentials() -> None:
    """Print a new account SID and auth token as environment assignments."""
    typer.echo(f"OPENCOMMS_ACCOUNT_SID={new_account_sid()}")
    typer.echo(f"OPENCOMMS_AUTH_TOKEN={new_auth_token()}")


def rotate_token(
    account_sid: str | None = typer.Option(
        None, "--account-sid", help="The account (default: OPENCOMMS_ACCOUNT_SID)."
    ),
    database_url: str | None = typer.Option(
        None, "--database-url", help="sqlite:///path.db or postgresql://user@host:port/db."
    ),
    config: str | None = typer.Option(
        None, "--config", help="Operator TOML file (OPENCOMMS_CONFIG)."
    ),
    env_file: str | None = typer.Option(
        None, "--env-file", help="Also write the new token into this file (e.g. opencomms.env)."
    ),
) -> None:
    """Give an account a new auth token, printed this once; the old one stops working
    (within 2 s in every running server process, which remember verified tokens that
    long)."""
    try:
        settings = load_settings(
            config, overrides={"database_url": database_url}, connector_types=CONNECTOR_TYPES
        )
    except SettingsError as error:
        typer.echo(f"opencomms: {error}", err=True)
        raise typer.Exit(2) from None
    sid = account_sid or settings.account_sid
    if not sid:
        typer.echo("opencomms: name the account: --account-sid or OPENCOMMS_ACCOUNT_SID", err=True)
        raise typer.Exit(2)
    token = new_auth_token()
    if not asyncio.run(_store_token(settings, sid, token)):
        typer.echo(f"opencomms: there is no account {sid}", err=True)
        raise typer.Exit(1)
    typer.echo(f"New auth token of {sid}, shown this once: {token}")
    if env_file is not None:
        _write_token(Path(env_file), token)
        typer.echo(f"It replaces OPENCOMMS_AUTH_TOKEN in {env_file}.")


async def _store_token(settings: Settings, sid: str, token: str) -> bool:
    server = settings.server
    sealer = server_sealer(server.secret_key, server.secret_key_file)
    sealed = sealer.seal(token)
    db = await open_database(server.database_url, sealer=sealer)
    try:
        return await db.write(
            lambda conn: accounts.set_auth_token(
                conn, sid, auth_token=token, auth_token_sealed=sealed
            )
        )
    finally:
        await db.close()


def _write_token(path: Path, token: str) -> None:
    """Replace (or add) the OPENCOMMS_AUTH_TOKEN line, the file readable by its owner only."""
    text = path.read_text() if path.exists() else ""
    line = f"OPENCOMMS_AUTH_TOKEN={token}"
    if _TOKEN_LINE.search(text):
        text = _TOKEN_LINE.sub(line, text)
    else:
        text += ("" if text.endswith("\n") or not text else "\n") + line + "\n"
    descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(descriptor, 0o600)
    with os.fdopen(descriptor, "w") as file:
        file.write(text)
