"""`opencomms send`: one `POST /v1/Messages` per 10,000 recipients; their operation ids.

The contract takes at most 10,000 recipients per operation, so a longer list (from
`--to` then `--to-file`, in that order) is sent as consecutive operations of at most
10,000 each, and every operation id is printed, one a line, on stdout. If one of them
is refused, the ones before it stand (their ids are already printed) and the error's
`to[N]` fields are numbered over the whole list, not within that operation.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path
from typing import Annotated, Any

import typer

from opencomms.api.send_request import MAX_RECIPIENTS
from opencomms.cli.client import ApiClient, ApiFailure
from opencomms.cli.connection import (
    AccountSidOption,
    AuthTokenOption,
    UrlOption,
    resolve_connection,
)
from opencomms.cli.errors import reporting_errors
from opencomms.cli.recipients import (
    Recipient,
    chunked,
    recipients_from_addresses,
    recipients_from_csv,
)
from opencomms.cli.watch import watch_operations
from opencomms.domain.channels import RecipientChannel

__all__ = ["build_common", "parse_tags", "send", "send_in_batches"]

_RECIPIENT_INDEX = re.compile(r"\bto\[(\d+)\]")


TextOption = Annotated[
    str,
    typer.Option(
        "--text", help="The message; Liquid with each recipient's variables: 'Hi {{name}}'."
    ),
]
ToOption = Annotated[
    list[str] | None,
    typer.Option("--to", metavar="ADDRESS", help="A recipient (repeatable)."),
]
ToFileOption = Annotated[
    Path | None,
    typer.Option(
        "--to-file",
        exists=True,
        dir_okay=False,
        help="CSV with a header row: address, optional channel, other columns are "
        "variables of that recipient.",
    ),
]
ChannelOption = Annotated[
    RecipientChannel | None,
    typer.Option(
        "--channel",
        case_sensitive=False,
        show_default="EMAIL if the address has @, else PHONE",
        help="Channel of recipients without one.",
    ),
]
FromPoolOption = Annotated[
    str | None, typer.Option("--from-pool", metavar="POOL_ID", help="Send from this pool.")
]
FromSenderOption = Annotated[
    str | None,
    typer.Option("--from-sender", metavar="SENDER_ID", help="Send from this sender."),
]
TagOption = Annotated[
    list[str] | None,
    typer.Option("--tag", metavar="KEY=VALUE", help="A tag of the messages (repeatable)."),
]
WatchOption = Annotated[
    bool, typer.Option("--watch", help="Then follow the operations like `watch`.")
]


def send(
    text: TextOption,
    to: ToOption = None,
    to_file: ToFileOption = None,
    channel: ChannelOption = None,
    from_pool: FromPoolOption = None,
    from_sender: FromSenderOption = None,
    tag: TagOption = None,
    watch: WatchOption = False,
    url: UrlOption = None,
    account_sid: AccountSidOption = None,
    auth_token: AuthTokenOption = None,
) -> None:
    """Send a message to recipients; print the operation id (one per 10,000 recipients).

    Without --watch, stdout holds only the ids, one a line, for scripts to capture.
    """
    common = build_common(text, from_pool, from_sender, parse_tags(tag or []))
    with reporting_errors():
        connection = resolve_connection(url, account_sid, auth_token)
        recipients = _all_recipients(to or [], to_file, channel)
        with ApiClient(connection) as client:
            operation_ids = send_in_batches(client, common, recipients)
            if watch:
                watch_operations(client, operation_ids)


def _all_recipients(
    addresses: Sequence[str], to_file: Path | None, channel: RecipientChannel | None
) -> list[Recipient]:
    """The `--to` recipients then the `--to-file` ones, in that order; at least one."""
    recipients = recipients_from_addresses(addresses, channel)
    if to_file is not None:
        recipients += recipients_from_csv(to_file, channel)
    if not recipients:
        raise typer.BadParameter("give at least one recipient", param_hint="--to/--to-file")
    return recipients


def parse_tags(pairs: Sequence[str]) -> dict[str, str]:
    """`["k=v", …]` as a dict; the server checks the characters and sizes."""
    tags = {}
    for pair in pairs:
        key, equals, value = pair.partition("=")
        if not equals or not key:
            raise typer.BadParameter(f"{pair!r} is not KEY=VALUE", param_hint="--tag")
        tags[key] = value
    return tags


def build_common(
    text: str, from_pool: str | None, from_sender: str | None, tags: dict[str, str]
) -> dict[str, Any]:
    """The body fields every operation of this send shares (all but `to`)."""
    if from_pool and from_sender:
        raise typer.BadParameter(
            "give --from-pool or --from-sender, not both", param_hint="--from-pool"
        )
    body: dict[str, Any] = {"content": {"text": text}}
    if from_pool:
        body["from"] = {"senderPoolId": from_pool}
    elif from_sender:
        body["from"] = {"senderId": from_sender}
    if tags:
        body["tags"] = tags
    return body


def send_in_batches(
    client: ApiClient, common: dict[str, Any], recipients: Sequence[Recipient]
) -> list[str]:
    """Post the recipients in operations of at most MAX_RECIPIENTS; each id as it comes."""
    batches = chunked(recipients, MAX_RECIPIENTS)
    if len(batches) > 1:
        typer.echo(
            f"opencomms: {len(recipients):,} recipients, sent as {len(batches)} operations "
            f"of at most {MAX_RECIPIENTS:,}",
            err=True,
        )
    operation_ids: list[str] = []
    for number, batch in enumerate(batches):
        try:
            operation_id = client.send({"to": list(batch), **common})
        except ApiFailure as failure:
            if operation_ids:
                typer.echo(
                    f"opencomms: {len(operation_ids)} operation(s) accepted before this one "
                    "failed; their ids are above",
                    err=True,
                )
            raise _renumbered(failure, number * MAX_RECIPIENTS) from None
        typer.echo(operation_id)
        operation_ids.append(operation_id)
    return operation_ids


def _renumbered(failure: ApiFailure, offset: int) -> ApiFailure:
    """The failure with `to[N]` counted over all recipients rather than within one batch."""
    if not offset:
        return failure

    def shift(text: Any) -> Any:
        if not isinstance(text, str):
            return text
        return _RECIPIENT_INDEX.sub(lambda match: f"to[{int(match[1]) + offset}]", text)

    body = dict(failure.body)
    body["message"] = shift(body.get("message"))
    body["errors"] = [
        {**item, "field": shift(item.get("field"))} if isinstance(item, dict) else item
        for item in body.get("errors") or []
    ]
    return ApiFailure(failure.status, body)
