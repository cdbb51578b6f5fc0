"""Command-line mistakes are caught before any request, with exit code 2."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from tests.cli.helpers import run

CREDENTIALS = ["--url", "http://127.0.0.1:9", "--account-sid", "AC1", "--auth-token", "t"]


@pytest.mark.parametrize(
    ("args", "problem"),
    [
        (["--text", "Hi"], "give at least one recipient"),
        (["--text", "Hi", "--to", "+14155550100", "--tag", "novalue"], "is not KEY=VALUE"),
        (
            ["--text", "Hi", "--to", "+14155550100", "--from-pool", "p", "--from-sender", "s"],
            "not both",
        ),
        (["--text", "Hi", "--to-file", "absent.csv"], "absent.csv"),
        (["--text", "Hi", "--to", "+14155550100", "--channel", "fax"], "fax"),
    ],
)
def test_usage_errors_exit_2(
    args: list[str], problem: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    result = run(["send", *args, *CREDENTIALS])

    assert result.exit_code == 2, result.output
    assert problem in re.sub(r"\s*│\s*", " ", result.stderr)


def test_an_unusable_recipients_file_exits_2(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    (tmp_path / "r.csv").write_text("phone\n+14155550100\n")

    result = run(["send", "--text", "Hi", "--to-file", "r.csv", *CREDENTIALS])

    assert result.exit_code == 2
    assert "r.csv: the header row needs an 'address' column" in result.stderr


def test_credentials_prints_environment_assignments() -> None:
    result = run(["credentials"])

    assert result.exit_code == 0
    assert re.fullmatch(
        r"OPENCOMMS_ACCOUNT_SID=AC[0-9a-f]{32}\nOPENCOMMS_AUTH_TOKEN=[0-9a-f]{32}\n", result.stdout
    )


def test_help_lists_every_command() -> None:
    result = run(["--help"])

    assert result.exit_code == 0
    for command in ("serve", "migrate", "credentials", "rotate-token", "send", "watch"):
        assert command in result.stdout
