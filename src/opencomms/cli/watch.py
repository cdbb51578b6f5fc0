"""`opencomms watch`: follow operations until they finish, then print their final stats."""

from __future__ import annotations

import time
from collections.abc import Sequence
from typing import Annotated, Any

import typer
from rich.console import Console

from opencomms.cli.client import ApiClient
from opencomms.cli.connection import (
    AccountSidOption,
    AuthTokenOption,
    UrlOption,
    resolve_connection,
)
from opencomms.cli.display import FINISHED, OperationDisplay, display_for, legend, stats_table
from opencomms.cli.errors import reporting_errors

__all__ = ["POLL_INTERVAL", "follow", "watch", "watch_operations"]

POLL_INTERVAL = 0.25  # seconds: about four polls a second
INTERRUPTED = 130  # the shell's code for Ctrl-C

Operation = dict[str, Any]


def watch(
    operation_ids: Annotated[
        list[str], typer.Argument(metavar="OPERATION_ID", help="Operations to follow.")
    ],
    url: UrlOption = None,
    account_sid: AccountSidOption = None,
    auth_token: AuthTokenOption = None,
) -> None:
    """Show live progress of operations; exit 0 once all are COMPLETED (or CANCELED).

    Exits 1 when an operation does not exist (404) or the server cannot be reached.
    """
    with reporting_errors():
        connection = resolve_connection(url, account_sid, auth_token)
        with ApiClient(connection) as client:
            watch_operations(client, operation_ids)


def watch_operations(client: ApiClient, operation_ids: Sequence[str]) -> None:
    """Follow the operations with a progress display on stderr, then print the final stats
    on stdout. Ctrl-C stops watching (exit 130); the operations go on."""
    ids = list(dict.fromkeys(operation_ids))  # each once, in the given order
    try:
        with display_for(Console(stderr=True), ids) as display:
            final = follow(client, ids, display)
    except KeyboardInterrupt:
        typer.echo("opencomms: stopped watching; the operations go on.", err=True)
        raise typer.Exit(INTERRUPTED) from None
    out = Console(highlight=False)
    for line in legend(final):
        out.print(line, markup=False)
    out.print(stats_table(final))


def follow(
    client: ApiClient,
    operation_ids: Sequence[str],
    display: OperationDisplay,
    interval: float = POLL_INTERVAL,
) -> list[Operation]:
    """Poll every unfinished operation each `interval` until all are finished; their last
    state, in the order of `operation_ids`. A finished operation is not polled again."""
    latest: dict[str, Operation] = {}
    while True:
        started = time.monotonic()
        for operation_id in operation_ids:
            if operation_id not in latest or latest[operation_id]["status"] not in FINISHED:
                latest[operation_id] = client.operation(operation_id)
        display.update([latest[operation_id] for operation_id in operation_ids])
        if all(operation["status"] in FINISHED for operation in latest.values()):
            return [latest[operation_id] for operation_id in operation_ids]
        time.sleep(max(0.0, interval - (time.monotonic() - started)))
