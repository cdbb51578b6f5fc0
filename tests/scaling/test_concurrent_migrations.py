"""Processes that start at once on one fresh PostgreSQL database all migrate it: one
applies the migrations while the others wait on its lock, then find nothing to do."""

from __future__ import annotations

import base64
import os
import secrets
import subprocess
import sys
from pathlib import Path

from tests.store.test_migrations import _differences
from tests.support.databases import fresh_postgres

PROCESSES = 4


def test_processes_migrating_one_fresh_database_at_once_all_succeed(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCOMMS_")}
    env["OPENCOMMS_SECRET_KEY"] = base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()
    with fresh_postgres() as url:
        started = [
            subprocess.Popen(
                [sys.executable, "-m", "opencomms", "migrate", "--database-url", url],
                cwd=tmp_path,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )
            for _ in range(PROCESSES)
        ]
        outcomes = [(process.wait(timeout=120), process.stderr) for process in started]
        errors = [stream.read() if stream else "" for _, stream in outcomes]

        assert [code for code, _ in outcomes] == [0] * PROCESSES, errors
        assert _differences(url) == []
