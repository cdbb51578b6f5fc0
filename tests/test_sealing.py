"""The server's key file: made once, on the first start, readable by its owner only,
and the same key for every process, even when several start at once on a fresh
machine (`serve --workers N`)."""

from __future__ import annotations

import stat
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from opencomms.sealing import Sealer, load_or_create_key

STARTING_TOGETHER = 16


def test_the_first_start_makes_a_key_that_later_starts_read(tmp_path: Path) -> None:
    path = tmp_path / "keys" / "opencomms.key"

    made = load_or_create_key(path)

    assert len(made) == 32
    assert load_or_create_key(path) == made
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert [p.name for p in path.parent.iterdir()] == ["opencomms.key"]  # nothing left over


def test_processes_starting_together_all_get_the_one_key_in_the_file(tmp_path: Path) -> None:
    for round_ in range(20):
        path = tmp_path / str(round_) / "opencomms.key"

        keys = started_together(path)

        assert set(keys) == {load_or_create_key(path)}
        sealed = Sealer(keys[0]).seal("token")
        assert all(Sealer(key).unseal(sealed) == "token" for key in keys)
        assert [p.name for p in path.parent.iterdir()] == ["opencomms.key"]


def started_together(path: Path) -> list[bytes]:
    """The keys STARTING_TOGETHER threads read or made at `path`, let go at once."""
    together = threading.Barrier(STARTING_TOGETHER)

    def start(_: int) -> bytes:
        together.wait()
        return load_or_create_key(path)

    with ThreadPoolExecutor(STARTING_TOGETHER) as pool:
        return list(pool.map(start, range(STARTING_TOGETHER)))
