"""Recipients from --to and from a CSV file, and the 10,000 split."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.cli.recipients import (
    RecipientFileError,
    chunked,
    recipients_from_addresses,
    recipients_from_csv,
)
from opencomms.domain.channels import RecipientChannel


def csv_file(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "recipients.csv"
    path.write_text(text, encoding="utf-8")
    return path


def test_addresses_are_phone_unless_they_hold_an_at_sign() -> None:
    assert recipients_from_addresses([" +14155550100 ", "ada@example.com"]) == [
        {"address": "+14155550100", "channel": "PHONE"},
        {"address": "ada@example.com", "channel": "EMAIL"},
    ]


def test_channel_option_overrides_the_guess() -> None:
    recipients = recipients_from_addresses(["+14155550100"], RecipientChannel.WHATSAPP)
    assert recipients == [{"address": "+14155550100", "channel": "WHATSAPP"}]


def test_csv_columns_become_variables_and_empty_cells_are_left_out(tmp_path: Path) -> None:
    path = csv_file(
        tmp_path,
        "\ufeffAddress,Channel,name,city\n"  # a BOM and capitalised headers, as Excel writes
        "+14155550100,,Ada,London\n"
        "\n"
        "ada@example.com,email,Ada,\n"
        "+14155550101,whatsapp,,\n",
    )

    assert recipients_from_csv(path) == [
        {
            "address": "+14155550100",
            "channel": "PHONE",
            "variables": {"name": "Ada", "city": "London"},
        },
        {"address": "ada@example.com", "channel": "EMAIL", "variables": {"name": "Ada"}},
        {"address": "+14155550101", "channel": "WHATSAPP"},
    ]


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("phone,name\n+14155550100,Ada\n", "needs an 'address' column"),
        ("", "needs an 'address' column"),
        ("address,name,name\n+14155550100,Ada,Ada\n", "empty or repeated column"),
        ("address,name\n,Ada\n", "line 2: the address is empty"),
        ("address\n+14155550100,extra\n", "line 2: 2 fields for 1 columns"),
        ("address,channel\n+14155550100,fax\n", "line 2: channel must be"),
    ],
)
def test_unusable_files_name_the_problem(tmp_path: Path, text: str, problem: str) -> None:
    with pytest.raises(RecipientFileError, match=problem):
        recipients_from_csv(csv_file(tmp_path, text))


def test_an_undecodable_file_is_a_recipient_file_error(tmp_path: Path) -> None:
    path = tmp_path / "latin1.csv"
    path.write_bytes("address,name\n+14155550100,Jos\xe9\n".encode("latin-1"))
    with pytest.raises(RecipientFileError, match=r"latin1\.csv"):
        recipients_from_csv(path)


def test_chunked_keeps_order_and_bounds() -> None:
    assert chunked(list(range(5)), 2) == [[0, 1], [2, 3], [4]]
    assert chunked([], 2) == []
