"""Running the CLI in-process, isolated from the caller's environment and directory."""

from __future__ import annotations

from collections.abc import Sequence

from click.testing import Result
from typer.testing import CliRunner

from opencomms.cli.main import app
from tests.support.server import ThreadServer

__all__ = ["OPERATION_ID", "operation_ids", "run", "run_as"]

OPERATION_ID = r"comms_operation_[0-7][0-9a-hjkmnp-tv-z]{25}"
# None unsets: the CLI must see only what a test gives it
CLEAN_ENV: dict[str, str | None] = {
    "OPENCOMMS_URL": None,
    "OPENCOMMS_ACCOUNT_SID": None,
    "OPENCOMMS_AUTH_TOKEN": None,
}


def run(args: Sequence[str], env: dict[str, str] | None = None) -> Result:
    """`opencomms ARGS` as a user would type it; stdout and stderr kept apart."""
    return CliRunner().invoke(app, list(args), env={**CLEAN_ENV, **(env or {})})


def run_as(server: ThreadServer, account: tuple[str, str], args: Sequence[str]) -> Result:
    """`opencomms ARGS --url … --account-sid … --auth-token …`."""
    sid, token = account
    return run([*args, "--url", server.url, "--account-sid", sid, "--auth-token", token])


def operation_ids(result: Result) -> list[str]:
    """The lines of stdout (`send` prints only ids there when not watching)."""
    return result.stdout.split()
