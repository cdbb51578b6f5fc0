"""Where the server is and who we are: the connection settings of `send` and `watch`.

Each setting comes from its option, else its environment variable, else `./opencomms.env`
(the `KEY=VALUE` file `make serve` writes with the credentials of the account it created),
else (for the URL only) the embedded default, http://127.0.0.1:8080.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

import typer

__all__ = [
    "DEFAULT_URL",
    "ENV_FILE",
    "AccountSidOption",
    "AuthTokenOption",
    "Connection",
    "MissingCredentials",
    "UrlOption",
    "read_env_file",
    "resolve_connection",
]

DEFAULT_URL = "http://127.0.0.1:8080"
ENV_FILE = Path("opencomms.env")
URL_VAR, SID_VAR, TOKEN_VAR = "OPENCOMMS_URL", "OPENCOMMS_ACCOUNT_SID", "OPENCOMMS_AUTH_TOKEN"

UrlOption = Annotated[
    str | None,
    typer.Option(
        "--url",
        envvar=URL_VAR,
        show_default=DEFAULT_URL,
        help="Server base URL; else OPENCOMMS_URL in ./opencomms.env.",
    ),
]
AccountSidOption = Annotated[
    str | None,
    typer.Option(
        "--account-sid",
        envvar=SID_VAR,
        show_default=False,
        help="Account SID (or API key SID); else ./opencomms.env.",
    ),
]
AuthTokenOption = Annotated[
    str | None,
    typer.Option(
        "--auth-token",
        envvar=TOKEN_VAR,
        show_default=False,
        help="Auth token (or API key secret); else ./opencomms.env.",
    ),
]


class MissingCredentials(Exception):
    """Neither the options, the environment nor ./opencomms.env give both credentials."""


@dataclass(frozen=True)
class Connection:
    url: str
    account_sid: str
    auth_token: str


def read_env_file(path: Path) -> dict[str, str]:
    """The `KEY=VALUE` lines of `path` (blank lines, `#` comments and `export ` tolerated)."""
    values: dict[str, str] = {}
    for raw in path.read_text(encoding="utf-8").splitlines():
        line = raw.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.removeprefix("export ").partition("=")
        values[key.strip()] = _unquote(value.strip())
    return values


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def resolve_connection(
    url: str | None, account_sid: str | None, auth_token: str | None, env_file: Path = ENV_FILE
) -> Connection:
    """The connection, with what the options and environment left open filled from `env_file`.

    Raises `MissingCredentials` when a credential is still missing.
    """
    if (url is None or account_sid is None or auth_token is None) and env_file.is_file():
        from_file = read_env_file(env_file)
        url = url or from_file.get(URL_VAR)
        account_sid = account_sid or from_file.get(SID_VAR)
        auth_token = auth_token or from_file.get(TOKEN_VAR)
    if not account_sid or not auth_token:
        raise MissingCredentials(
            "no credentials: give --account-sid and --auth-token, set "
            f"{SID_VAR} and {TOKEN_VAR}, or run where ./{ENV_FILE} holds them "
            "(`make serve` writes it)"
        )
    return Connection((url or DEFAULT_URL).rstrip("/"), account_sid, auth_token)
