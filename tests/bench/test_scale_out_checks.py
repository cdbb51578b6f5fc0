"""The scale-out scenario's own checks catch what they are there for: an attempt submitted
twice, a Message never submitted, a torn log line; and its wait for every process counts
listening sockets only."""

from __future__ import annotations

import socket
from pathlib import Path

import msgspec
import pytest
from bench.api import BenchFailure
from bench.scenarios.scale_out import check_submit_log, listeners


def _line(attempt: str, message: str, operation: str = "op1", result: str = "ACCEPTED") -> bytes:
    line = {
        "attemptId": attempt, "messageId": message, "operationId": operation,
        "channel": "RCS", "to": "+14150001000", "at": "2026-12-07T00:00:00.000Z",
        "result": result,
    }  # fmt: skip
    return msgspec.json.encode(line) + b"\n"


def _log(tmp_path: Path, *lines: bytes) -> Path:
    path = tmp_path / "submits.jsonl"
    path.write_bytes(b"".join(lines))
    return path


def test_a_sound_log_passes(tmp_path: Path) -> None:
    path = _log(tmp_path, _line("a1", "m1"), _line("a2", "m2", "op2"))
    assert check_submit_log(path, ["op1", "op2"], 2) == 2


@pytest.mark.parametrize(
    ("lines", "says"),
    [
        ((_line("a1", "m1"), _line("a1", "m1")), "submitted more than once"),
        ((_line("a1", "m1"),), "1 submits in the log for 2 Messages"),
        ((_line("a1", "m1"), _line("a2", "m1")), "a Message submitted under two attempts"),
        ((_line("a1", "m1"), _line("a2", "m2", result="REJECTED")), "not accepted"),
        ((_line("a1", "m1"), _line("a2", "m2")[:20] + b"\n"), "a torn line"),
    ],
)
def test_a_wrong_log_fails(tmp_path: Path, lines: tuple[bytes, ...], says: str) -> None:
    with pytest.raises(BenchFailure, match=says):
        check_submit_log(_log(tmp_path, *lines), ["op1"], 2)


def test_no_log_at_all_fails(tmp_path: Path) -> None:
    with pytest.raises(BenchFailure, match="0 submits"):
        check_submit_log(tmp_path / "absent.jsonl", ["op1"], 1)


def _shared(port: int = 0) -> socket.socket:
    sock = socket.socket()
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def test_listeners_counts_listening_sockets_only() -> None:
    first = _shared()
    port = first.getsockname()[1]
    second = _shared(port)
    try:
        assert listeners(port) == 0  # bound, not yet listening: no connection reaches them
        first.listen()
        assert listeners(port) == 1
        second.listen()
        assert listeners(port) == 2
    finally:
        first.close()
        second.close()
    assert listeners(port) == 0
