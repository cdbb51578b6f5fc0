"""Content templates as stored (store/content.py), on both engines: written and read back
whole, listed newest first by keyset, scoped to their account, deleted."""

from __future__ import annotations

from opencomms.domain.ids import new_account_sid, new_content_sid
from opencomms.store import content
from opencomms.store.content import ContentRecord
from opencomms.store.database import Database


def template(account: str, name: str, at: int) -> ContentRecord:
    return ContentRecord(
        sid=new_content_sid(),
        account_sid=account,
        friendly_name=name,
        language="en",
        variables={"1": "there", "2": "Ünïcode ✓"},
        types={
            "twilio/text": {"body": "Hi {{1}}"},
            "twilio/card": {"title": "T", "media": ["https://x.test/a.png"], "actions": []},
        },
        created_at=at,
        updated_at=at,
    )


async def test_a_template_is_read_back_as_written(db: Database) -> None:
    account = new_account_sid()
    written = template(account, "welcome", 1_700_000_000_000)
    await db.write(lambda conn: content.insert_content(conn, written))

    assert await db.read(lambda conn: content.get_content(conn, account, written.sid)) == written


async def test_templates_list_newest_first_below_a_sid(db: Database) -> None:
    account = new_account_sid()
    made = [template(account, f"t{i}", 1_700_000_000_000 + i) for i in range(3)]
    for record in made:
        await db.write(lambda conn, record=record: content.insert_content(conn, record))
    other = template(new_account_sid(), "other", 1_700_000_000_000)
    await db.write(lambda conn: content.insert_content(conn, other))

    first = await db.read(lambda conn: content.list_contents(conn, account, before="~", limit=2))
    rest = await db.read(
        lambda conn: content.list_contents(conn, account, before=first[-1].sid, limit=2)
    )

    assert [r.friendly_name for r in first + rest] == ["t2", "t1", "t0"]


async def test_another_accounts_template_is_neither_read_nor_deleted(db: Database) -> None:
    owner, stranger = new_account_sid(), new_account_sid()
    written = template(owner, "mine", 1_700_000_000_000)
    await db.write(lambda conn: content.insert_content(conn, written))

    assert await db.read(lambda conn: content.get_content(conn, stranger, written.sid)) is None
    assert not await db.write(lambda conn: content.delete_content(conn, stranger, written.sid))
    assert await db.write(lambda conn: content.delete_content(conn, owner, written.sid))
    assert await db.read(lambda conn: content.get_content(conn, owner, written.sid)) is None
    assert not await db.write(lambda conn: content.delete_content(conn, owner, written.sid))
