"""`opencomms migrate --config` migrates the configured database with the server's key,
which the migration that seals stored webhook secrets needs."""

from __future__ import annotations

import base64
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.store.test_migrations import KEY, KEY_BYTES, _run_sql, _with_clear_secrets
from tests.support.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def old_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        _with_clear_secrets(url)
        yield url


def _migrate(workdir: Path, *options: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "opencomms", "migrate", *options],
        cwd=workdir,
        env={k: v for k, v in os.environ.items() if not k.startswith("OPENCOMMS_")},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_migrate_seals_secrets_with_the_key_its_configuration_names(
    old_database: str, tmp_path: Path
) -> None:
    key_file = tmp_path / "keys" / "opencomms.key"
    key_file.parent.mkdir()
    key_file.write_text(base64.urlsafe_b64encode(KEY_BYTES).decode())
    config = tmp_path / "opencomms.toml"
    config.write_text(
        f'[server]\ndatabase_url = "{old_database}"\nsecret_key_file = "{key_file}"\n'
    )

    result = _migrate(tmp_path, "--config", str(config))

    assert result.returncode == 0, result.stderr
    ((sealed,),) = _run_sql(old_database, "SELECT secret_sealed FROM sinks WHERE id = 'DG1'")
    assert KEY.unseal(str(sealed)) == "whsec_sink"


def test_migrate_with_another_key_stops_and_says_why(old_database: str, tmp_path: Path) -> None:
    result = _migrate(tmp_path, "--database-url", old_database)  # a new key file, here

    assert result.returncode == 1
    assert "does not open the auth tokens" in result.stderr
    assert _run_sql(old_database, "SELECT secret FROM sinks WHERE id = 'DG1'") == [("whsec_sink",)]
