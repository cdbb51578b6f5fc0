"""Content templates (`/v1/Content`): an account's templates, as stored.

A template is read when a send names it (`content.contentId`) and turned into the send's
channel modules then (domain/content_templates.py), so deleting it changes no accepted send.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opencomms.store.database import Conn, Row
from opencomms.store.jsoncol import dump, load

__all__ = [
    "ContentRecord",
    "delete_content",
    "get_content",
    "insert_content",
    "list_contents",
]


class ContentRecord(msgspec.Struct, frozen=True):
    """A content template: its default variables and its content types, as given."""

    sid: str
    account_sid: str
    friendly_name: str | None
    language: str
    variables: dict[str, str]
    types: dict[str, dict[str, Any]]
    created_at: int
    updated_at: int


_COLUMNS = ", ".join(ContentRecord.__struct_fields__)


def _record(row: Row) -> ContentRecord:
    """A row of `SELECT {_COLUMNS}`, by column name; its JSON columns decoded."""
    values = dict(zip(ContentRecord.__struct_fields__, row, strict=True))
    values["variables"] = load(values["variables"])
    values["types"] = load(values["types"])
    return ContentRecord(**values)


async def insert_content(conn: Conn, record: ContentRecord) -> None:
    await conn.execute(
        f"INSERT INTO content_templates ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
        record.sid, record.account_sid, record.friendly_name, record.language,
        dump(record.variables), dump(record.types), record.created_at, record.updated_at,
    )  # fmt: skip


async def get_content(conn: Conn, account_sid: str, sid: str) -> ContentRecord | None:
    """The account's template `sid`; None when it has none by that sid (another
    account's is not found either)."""
    row = await conn.fetchrow(
        f"SELECT {_COLUMNS} FROM content_templates WHERE sid = ? AND account_sid = ?",
        sid,
        account_sid,
    )
    return _record(row) if row else None


async def list_contents(
    conn: Conn, account_sid: str, *, before: str, limit: int
) -> list[ContentRecord]:
    """Newest first, below the sid `before`."""
    rows = await conn.fetch(
        f"SELECT {_COLUMNS} FROM content_templates WHERE account_sid = ? AND sid < ?"
        " ORDER BY sid DESC LIMIT ?",
        account_sid,
        before,
        limit,
    )
    return [_record(row) for row in rows]


async def delete_content(conn: Conn, account_sid: str, sid: str) -> bool:
    """Whether the account had the template `sid` (now deleted)."""
    deleted = await conn.execute(
        "DELETE FROM content_templates WHERE sid = ? AND account_sid = ?", sid, account_sid
    )
    return deleted > 0
