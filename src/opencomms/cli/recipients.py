"""Recipients of `send`: from `--to` addresses and from a CSV file, as the contract's `to`.

The CSV has a header row. `address` is required; `channel` is optional (PHONE, WHATSAPP
or EMAIL; empty: the default rule). Every other column is a Liquid variable of its row's
recipient: a `name` column makes `{{name}}` work. Empty cells are left out, so
`{{name | default: 'there'}}` applies to them.
"""

from __future__ import annotations

import csv
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any, TypeVar

from opencomms.domain.channels import RecipientChannel

__all__ = [
    "Recipient",
    "RecipientFileError",
    "chunked",
    "default_channel",
    "recipients_from_addresses",
    "recipients_from_csv",
]

Recipient = dict[str, Any]
T = TypeVar("T")
_CHANNELS = {channel.value for channel in RecipientChannel}


class RecipientFileError(Exception):
    """The CSV file cannot be read as recipients (the message names the file and line)."""


def default_channel(address: str, channel: RecipientChannel | None = None) -> str:
    """`channel` when given, else EMAIL for an address with '@', else PHONE."""
    if channel is not None:
        return channel.value
    return RecipientChannel.EMAIL.value if "@" in address else RecipientChannel.PHONE.value


def recipients_from_addresses(
    addresses: Iterable[str], channel: RecipientChannel | None = None
) -> list[Recipient]:
    """One recipient per address, without variables."""
    return [
        {"address": address.strip(), "channel": default_channel(address.strip(), channel)}
        for address in addresses
    ]


def recipients_from_csv(path: Path, channel: RecipientChannel | None = None) -> list[Recipient]:
    """One recipient per data row of the CSV file at `path`, in file order."""
    try:
        with path.open(encoding="utf-8-sig", newline="") as file:
            reader = csv.reader(file)
            header = _header(next(reader, []), path)
            return [
                _recipient(header, row, channel, f"{path} line {reader.line_num}")
                for row in _data_rows(reader)
            ]
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RecipientFileError(f"{path}: {error}") from error


def _header(row: list[str], path: Path) -> list[str]:
    """The column names; `address` and `channel` matched case-insensitively."""
    header = [column.strip() for column in row]
    header = [c.lower() if c.lower() in ("address", "channel") else c for c in header]
    if "address" not in header:
        raise RecipientFileError(f"{path}: the header row needs an 'address' column")
    if any(not column for column in header) or len(set(header)) != len(header):
        raise RecipientFileError(f"{path}: the header row has an empty or repeated column name")
    return header


def _data_rows(reader: Iterator[list[str]]) -> Iterator[list[str]]:
    return (row for row in reader if any(cell.strip() for cell in row))


def _recipient(
    header: list[str], row: list[str], channel: RecipientChannel | None, where: str
) -> Recipient:
    if len(row) > len(header):
        raise RecipientFileError(f"{where}: {len(row)} fields for {len(header)} columns")
    cells = {name: value.strip() for name, value in zip(header, row, strict=False)}
    address = cells.pop("address", "")
    if not address:
        raise RecipientFileError(f"{where}: the address is empty")
    chosen = cells.pop("channel", "").upper()
    if chosen and chosen not in _CHANNELS:
        raise RecipientFileError(f"{where}: channel must be PHONE, WHATSAPP or EMAIL")
    recipient: Recipient = {
        "address": address,
        "channel": chosen or default_channel(address, channel),
    }
    variables = {name: value for name, value in cells.items() if value}
    if variables:
        recipient["variables"] = variables
    return recipient


def chunked(items: Sequence[T], size: int) -> list[Sequence[T]]:
    """`items` in consecutive slices of at most `size`."""
    return [items[start : start + size] for start in range(0, len(items), size)]
