"""`opencomms`: the command-line entry point.

Server side: `serve`, `migrate` (cli/server.py), `credentials`, `rotate-token`
(cli/credentials.py). Client side, over HTTP to a
running server: `send` (cli/send.py) and `watch` (cli/watch.py).
"""

from __future__ import annotations

import typer

from opencomms.cli.credentials import credentials, rotate_token
from opencomms.cli.send import send
from opencomms.cli.server import migrate, serve
from opencomms.cli.watch import watch

__all__ = ["app"]

app = typer.Typer(
    help="opencomms: self-hosted bulk messaging (Twilio Communications API).", no_args_is_help=True
)

app.command()(serve)
app.command()(credentials)
app.command("rotate-token")(rotate_token)
app.command()(migrate)
app.command()(send)
app.command()(watch)
