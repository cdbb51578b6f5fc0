"""What the operation pages show beyond the API's operation body, read straight from the
store and always scoped by account: settled counts for the progress bars, delivery by
channel (first channel against the fallbacks), and Messages settled over time."""

from __future__ import annotations

from typing import NamedTuple

from opencomms.store.database import Conn

__all__ = [
    "ChannelShare",
    "Progress",
    "channel_shares",
    "progress_of",
    "recent_progress",
    "settled_over_time",
]

REACHED = ("SENT", "DELIVERED", "READ")
BUCKETS = 30


class Progress(NamedTuple):
    id: str
    status: str
    total: int
    settled: int
    created_at: int

    @property
    def percent(self) -> int:
        if self.status in ("COMPLETED", "CANCELED"):
            return 100
        return self.settled * 100 // self.total if self.total else 0


class ChannelShare(NamedTuple):
    channel: str
    first: int  # reached on the first channel tried
    fallback: int  # reached after one or more channels failed


_PROGRESS = "SELECT id, status, total, settled, created_at FROM operations"


async def recent_progress(conn: Conn, account_sid: str, limit: int) -> list[Progress]:
    rows = await conn.fetch(
        f"{_PROGRESS} WHERE account_sid = ? ORDER BY id DESC LIMIT ?", account_sid, limit
    )
    return [Progress(*row) for row in rows]


async def progress_of(conn: Conn, account_sid: str, ids: list[str]) -> list[Progress]:
    if not ids:
        return []
    marks = ", ".join("?" for _ in ids)
    rows = await conn.fetch(
        f"{_PROGRESS} WHERE account_sid = ? AND id IN ({marks})", account_sid, *ids
    )
    return [Progress(*row) for row in rows]


async def channel_shares(conn: Conn, account_sid: str, operation_id: str) -> list[ChannelShare]:
    """Reached Messages by the channel that reached them, and whether it was the first
    channel tried (a Message's first attempt) or a fallback."""
    marks = ", ".join("?" for _ in REACHED)
    rows = await conn.fetch(
        "SELECT channel, CASE WHEN attempt_count = 1 THEN 1 ELSE 0 END AS first_try,"
        " COUNT(*) FROM messages"
        f" WHERE operation_id = ? AND account_sid = ? AND status IN ({marks})"
        " AND channel IS NOT NULL GROUP BY channel, first_try ORDER BY channel",
        operation_id,
        account_sid,
        *REACHED,
    )
    shares: dict[str, list[int]] = {}
    for channel, first_try, count in rows:
        shares.setdefault(channel, [0, 0])[0 if first_try else 1] += int(count)
    return [ChannelShare(channel, first, fallback) for channel, (first, fallback) in shares.items()]


async def settled_over_time(
    conn: Conn, account_sid: str, operation_id: str, start: int, end: int
) -> list[int]:
    """How many of the operation's Messages settled in each of BUCKETS equal slices of
    [start, end] (epoch ms; a Message's last update is when it settled)."""
    width = max(1, (end - start) // BUCKETS + 1)
    rows = await conn.fetch(
        "SELECT (updated_at - ?) / ? AS slot, COUNT(*) FROM messages"
        " WHERE operation_id = ? AND account_sid = ? AND settled = 1 GROUP BY slot",
        start,
        width,
        operation_id,
        account_sid,
    )
    counts = [0] * BUCKETS
    for slot, count in rows:
        counts[min(BUCKETS - 1, max(0, int(slot)))] += int(count)
    return counts
