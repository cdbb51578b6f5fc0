"""Connection settings: option, else environment (typer), else ./opencomms.env, else default."""

from __future__ import annotations

from pathlib import Path

import pytest

from opencomms.cli.connection import (
    DEFAULT_URL,
    Connection,
    MissingCredentials,
    read_env_file,
    resolve_connection,
)


def test_env_file_lines(tmp_path: Path) -> None:
    path = tmp_path / "opencomms.env"
    path.write_text(
        "# comment\n\nOPENCOMMS_ACCOUNT_SID=AC1\nexport OPENCOMMS_AUTH_TOKEN='tok=en'\nnonsense\n"
    )
    assert read_env_file(path) == {"OPENCOMMS_ACCOUNT_SID": "AC1", "OPENCOMMS_AUTH_TOKEN": "tok=en"}


def test_given_values_win_over_the_file(tmp_path: Path) -> None:
    path = tmp_path / "opencomms.env"
    path.write_text("OPENCOMMS_ACCOUNT_SID=ACfile\nOPENCOMMS_AUTH_TOKEN=file\n")
    assert resolve_connection("http://h:1/", "AC1", None, path) == Connection(
        "http://h:1", "AC1", "file"
    )


def test_the_file_may_give_the_url(tmp_path: Path) -> None:
    path = tmp_path / "opencomms.env"
    path.write_text("OPENCOMMS_URL=http://h:2\nOPENCOMMS_ACCOUNT_SID=AC\nOPENCOMMS_AUTH_TOKEN=t\n")
    assert resolve_connection(None, None, None, path).url == "http://h:2"


def test_default_url(tmp_path: Path) -> None:
    connection = resolve_connection(None, "AC1", "token", tmp_path / "absent.env")
    assert connection.url == DEFAULT_URL


def test_missing_credentials(tmp_path: Path) -> None:
    with pytest.raises(MissingCredentials, match="no credentials"):
        resolve_connection(None, "AC1", None, tmp_path / "absent.env")
