"""The Alembic migrations build exactly the schema the code describes, on both engines."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path

import pytest
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Connection
from sqlalchemy.ext.asyncio import create_async_engine

from opencomms.domain.clock import now_ms
from opencomms.engine.pruning import Pruner, RetentionPolicy
from opencomms.sealing import Sealer
from opencomms.store import senders
from opencomms.store.migrate import alembic_config, async_url, upgrade
from opencomms.store.open import open_database
from opencomms.store.schema import metadata
from tests.support.databases import database_url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    with database_url(request.param, str(tmp_path)) as url:
        yield url


def _differences(url: str) -> list[object]:
    def compare(connection: Connection) -> list[object]:
        return list(compare_metadata(MigrationContext.configure(connection), metadata))

    async def run() -> list[object]:
        engine = create_async_engine(async_url(url))
        async with engine.connect() as connection:
            found = await connection.run_sync(compare)
        await engine.dispose()
        return found

    return asyncio.run(run())


def test_migrations_match_the_schema(empty_database: str) -> None:
    upgrade(empty_database)

    assert _differences(empty_database) == []


def test_upgrading_twice_changes_nothing(empty_database: str) -> None:
    upgrade(empty_database)
    upgrade(empty_database)

    assert _differences(empty_database) == []


ATTEMPT = (
    "INSERT INTO attempts (id, message_id, operation_id, account_sid, number, sender_id,"
    " connector, channel, from_address, to_address, to_channel, status, in_flight,"
    " provider_message_id, attempted_at, updated_at)"
    " VALUES ('SM1', 'MM1', 'OP1', 'AC1', 1, 'SN1', 'operator_a', 'SMS', '+12065550100',"
    " '+14155550100', 'PHONE', 'SENT', 0, {provider_id}, 0, 0)"
)


def _run_sql(url: str, *statements: str) -> list[tuple[object, ...]]:
    """Run the statements in one transaction; the rows of the last one, if any."""

    async def run() -> list[tuple[object, ...]]:
        engine = create_async_engine(async_url(url))
        async with engine.begin() as connection:
            for statement in statements:
                result = await connection.exec_driver_sql(statement)
            rows = [tuple(row) for row in result] if result.returns_rows else []
        await engine.dispose()
        return rows

    return asyncio.run(run())


def test_provider_ids_stored_before_0005_are_keyed_by_their_connector(
    empty_database: str,
) -> None:
    command.upgrade(alembic_config(empty_database), "0004")
    _run_sql(
        empty_database,
        ATTEMPT.format(provider_id="'M000001'"),
        ATTEMPT.replace("SM1", "SM2").format(provider_id="NULL"),
        "INSERT INTO attempt_parts (provider_message_id, attempt_id, part, status)"
        " VALUES ('M000002', 'SM1', 1, 'SENT')",
    )
    query = (
        "SELECT a.id, a.provider_message_id, p.provider_message_id FROM attempts a"
        " LEFT JOIN attempt_parts p ON p.attempt_id = a.id ORDER BY a.id"
    )

    upgrade(empty_database)
    keyed = _run_sql(empty_database, query)
    command.downgrade(alembic_config(empty_database), "0004")
    unkeyed = _run_sql(empty_database, query)

    assert keyed == [("SM1", "operator_a:M000001", "operator_a:M000002"), ("SM2", None, None)]
    assert unkeyed == [("SM1", "M000001", "M000002"), ("SM2", None, None)]


FINISHED_LONG_AGO = (
    "INSERT INTO operations (id, account_sid, status, spec, recipients, total, unaddressable,"
    " attempts, scheduled, queued, sent, delivered, read, undelivered, failed, canceled,"
    " settled, fanout_cursor, created_at, updated_at)"
    " VALUES ('OP1', 'AC1', 'COMPLETED', '{}', 1, 1, 0, 1, 0, 0, 0, 1, 0, 0, 0, 0, 1, 1, 0, 0)"
)
ITS_MESSAGE = (
    "INSERT INTO messages (id, account_sid, operation_id, recipient_index, status, recipient,"
    " candidates, candidate_count, content, tags, attempt_count, next_candidate, settled,"
    " created_at, updated_at)"
    " VALUES ('MM1', 'AC1', 'OP1', 0, 'DELIVERED', '{}', '[]', 0, '{}', '{}', 1, 1, 1, 0, 0)"
)


def test_operations_stored_before_0008_are_pruned_once_upgraded(empty_database: str) -> None:
    command.upgrade(alembic_config(empty_database), "0007")
    _run_sql(empty_database, FINISHED_LONG_AGO, ITS_MESSAGE, ATTEMPT.format(provider_id="NULL"))

    async def upgrade_and_prune() -> dict[str, int]:
        db = await open_database(empty_database)  # upgrades to the newest schema
        try:
            return await Pruner(db, RetentionPolicy()).prune(now_ms())
        finally:
            await db.close()

    pruned = asyncio.run(upgrade_and_prune())

    assert pruned["operations"] == 1
    assert _run_sql(empty_database, "SELECT id, account_sid, cleared FROM pruned_operations") == [
        ("OP1", "AC1", 1)
    ]
    for table in ("operations", "messages", "attempts"):
        assert _run_sql(empty_database, f"SELECT COUNT(*) FROM {table}") == [(0,)]


KEY_BYTES = bytes(range(32))
KEY = Sealer(KEY_BYTES)
ACCOUNT = (
    "INSERT INTO accounts (sid, auth_token_hash, auth_token_sealed, webhook_secret,"
    " friendly_name, created_at) VALUES ('AC1', 'h', '{token}', 'whsec_account', 'a', 0)"
)
SINK = (
    "INSERT INTO sinks (id, account_sid, kind, url, description, secret, status, cursor_txid,"
    " cursor_seq, tries, failing_since, next_attempt_at, created_at, updated_at)"
    " VALUES ('{id}', 'AC1', '{kind}', 'https://example.com/', '', '{secret}', 'ACTIVE',"
    " 0, 0, 0, NULL, 0, 0, 7)"
)


def _with_clear_secrets(url: str) -> None:
    """A database before 0007 holding an account and two sinks, secrets in the clear."""
    command.upgrade(alembic_config(url), "0006")
    _run_sql(
        url,
        ACCOUNT.format(token=KEY.seal("the auth token")),
        SINK.format(id="DG1", kind="webhook", secret="whsec_sink"),
        SINK.format(id="DG2", kind="callback", secret=""),
    )


def test_webhook_secrets_stored_in_the_clear_are_sealed_by_0007(empty_database: str) -> None:
    _with_clear_secrets(empty_database)

    upgrade(empty_database, KEY)
    sinks = _run_sql(
        empty_database, "SELECT id, secret_sealed, last_used_at FROM sinks ORDER BY id"
    )
    (account,) = _run_sql(empty_database, "SELECT webhook_secret_sealed FROM accounts")
    command.downgrade(alembic_config(empty_database, KEY), "0006")
    clear = _run_sql(empty_database, "SELECT id, secret FROM sinks ORDER BY id")

    (webhook, sealed, _), (callback, empty, used) = sinks
    assert webhook == "DG1"
    assert "whsec_" not in str(sealed) and "whsec_" not in str(account[0])
    assert KEY.unseal(str(sealed)) == "whsec_sink"
    assert KEY.unseal(str(account[0])) == "whsec_account"
    assert (callback, empty, used) == ("DG2", "", 7)  # last used: when it last changed
    assert clear == [("DG1", "whsec_sink"), ("DG2", "")]


@pytest.mark.parametrize(
    ("sealer", "message"),
    [(None, "opencomms migrate --config"), (Sealer(bytes(32)), "does not open the auth tokens")],
    ids=["no key", "wrong key"],
)
def test_sealing_needs_the_servers_own_key_and_changes_nothing_without_it(
    empty_database: str, sealer: Sealer | None, message: str
) -> None:
    _with_clear_secrets(empty_database)

    with pytest.raises(RuntimeError, match=message):
        upgrade(empty_database, sealer)

    assert _run_sql(empty_database, "SELECT secret FROM sinks ORDER BY id") == [
        ("whsec_sink",),
        ("",),
    ]
    upgrade(empty_database, KEY)  # with the right key, it goes through afterwards


SENDER = (
    "INSERT INTO senders (id, account_sid, address, channel, connector, status, tags,"
    " fallback_timeout_ms, receipt_wait_ms, created_at, updated_at)"
    " VALUES ('{id}', '{account}', '{address}', '{channel}', '{connector}', 'ACTIVATED', '{{}}',"
    " 0, 0, {created}, {created})"
)


def test_an_address_two_accounts_had_before_0006_stays_with_the_oldest(
    empty_database: str,
) -> None:
    command.upgrade(alembic_config(empty_database), "0005")
    _run_sql(
        empty_database,
        # the newer account registered the older one's number, and its email spelt otherwise
        SENDER.format(id="SN2", account="AC2", address="+12065550100", channel="SMS",
                      connector="operator_a", created=2),
        SENDER.format(id="SN1", account="AC1", address="+12065550100", channel="WHATSAPP",
                      connector="operator_a", created=1),
        SENDER.format(id="SN3", account="AC1", address="Team@Example.com", channel="EMAIL",
                      connector="smtp", created=3),
        SENDER.format(id="SN4", account="AC2", address="team@example.com", channel="EMAIL",
                      connector="smtp", created=4),
        # every account's simulator sender is the operator's
        SENDER.format(id="SN5", account="AC1", address="+15005550006", channel="SMS",
                      connector="simulator", created=5),
        SENDER.format(id="SN6", account="AC2", address="+15005550006", channel="SMS",
                      connector="simulator", created=6),
    )  # fmt: skip

    upgrade(empty_database)
    owners = _run_sql(
        empty_database,
        "SELECT connector, address_key, account_sid FROM sender_addresses"
        " WHERE address_key IN ('tel:12065550100', 'email:team@example.com', 'tel:15005550006')"
        " ORDER BY connector",
    )
    keys = _run_sql(empty_database, "SELECT id, address_key FROM senders ORDER BY id")
    sendable = _sendable(empty_database, ["SN1", "SN2", "SN3", "SN4", "SN5", "SN6"])
    _run_sql(
        empty_database,
        "INSERT INTO inbound_messages (id, account_sid, connector, channel, from_address,"
        " to_address, text, received_at)"
        " VALUES ('IN1', NULL, 'simulator', 'SMS', '+14155550100', '+15005550006', 'hi', 0)",
    )
    command.downgrade(alembic_config(empty_database), "0005")
    inbound_after_downgrade = _run_sql(empty_database, "SELECT id FROM inbound_messages")

    assert owners == [
        ("operator_a", "tel:12065550100", "AC1"),
        ("simulator", "tel:15005550006", None),
        ("smtp", "email:team@example.com", "AC1"),
    ]
    assert keys == [
        ("SN1", "tel:12065550100"),
        ("SN2", "tel:12065550100"),
        ("SN3", "email:team@example.com"),
        ("SN4", "email:team@example.com"),
        ("SN5", "tel:15005550006"),
        ("SN6", "tel:15005550006"),
    ]
    assert sendable == ["SN1", "SN3", "SN5", "SN6"]  # the newer account's SMS sender may not
    assert inbound_after_downgrade == []  # a message of no account cannot go back


def _sendable(url: str, sender_ids: list[str]) -> list[str]:
    async def run() -> list[str]:
        db = await open_database(url, migrate=False)
        try:
            return sorted(
                await db.read(lambda conn: senders.get_sendable_senders(conn, sender_ids))
            )
        finally:
            await db.close()

    return asyncio.run(run())
