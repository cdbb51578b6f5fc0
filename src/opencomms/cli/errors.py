"""Failures of the client commands, as messages on stderr and exit codes.

Exit codes: 1 when the server refused or could not be reached, 2 when the command line
itself cannot work (missing credentials, an unreadable recipients file), as click does
for usage errors.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import NoReturn

import typer

from opencomms.cli.client import ApiFailure, Unreachable, describe_failure
from opencomms.cli.connection import MissingCredentials
from opencomms.cli.recipients import RecipientFileError

__all__ = ["API_ERROR", "USAGE_ERROR", "fail", "reporting_errors"]

API_ERROR = 1
USAGE_ERROR = 2


def fail(message: str, code: int = API_ERROR) -> NoReturn:
    """Print `message` on stderr and leave with `code`."""
    typer.echo(f"opencomms: {message}", err=True)
    raise typer.Exit(code)


@contextmanager
def reporting_errors() -> Iterator[None]:
    """Turn the CLI's known failures into a readable message and their exit code."""
    try:
        yield
    except ApiFailure as failure:
        fail(describe_failure(failure))
    except Unreachable as error:
        fail(str(error))
    except (MissingCredentials, RecipientFileError) as error:
        fail(str(error), USAGE_ERROR)
