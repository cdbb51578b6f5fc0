"""initial schema

Revision ID: 0001
Revises:
Create Date: 2026-11-27 18:45:01.877473
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision = None
branch_labels = None
depends_on = None

# ids compare byte by byte on PostgreSQL (store/schema.py)
ID = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "accounts",
        sa.Column("sid", ID, nullable=False),
        sa.Column("auth_token_hash", sa.Text(), nullable=False),
        sa.Column("auth_token_sealed", sa.Text(), nullable=False),
        sa.Column("webhook_secret", sa.Text(), nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_table(
        "api_keys",
        sa.Column("sid", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("secret_hash", sa.Text(), nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_api_keys_account_sid"), ["account_sid"], unique=False)

    op.create_table(
        "attempts",
        sa.Column("id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=False),
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("number", sa.Integer(), nullable=False),
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=False),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("to_channel", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("in_flight", sa.Integer(), nullable=False),
        sa.Column("submitted_at", sa.BigInteger(), nullable=True),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("attempted_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_attempts_message_id"), ["message_id"], unique=False)

    op.create_table(
        "events",
        sa.Column("seq", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("txid", sa.BigInteger(), server_default=sa.text("0"), nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("type", sa.Text(), nullable=False),
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("message_id", ID, nullable=True),
        sa.Column("attempt_id", ID, nullable=True),
        sa.Column("status", sa.Text(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.create_index("ix_events_account", ["account_sid", "txid", "seq"], unique=False)
        batch_op.create_index("ix_events_created", ["created_at"], unique=False)

    if op.get_bind().dialect.name == "postgresql":
        # store/schema.py, events: the writing transaction's id orders events by commit
        op.execute(
            "ALTER TABLE events ALTER COLUMN txid SET DEFAULT (pg_current_xact_id()::text::bigint)"
        )

    op.create_table(
        "idempotency_keys",
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("request_hash", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("response_status", sa.Integer(), nullable=True),
        sa.Column("response_body", sa.Text(), nullable=True),
        sa.Column("response_headers", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_sid", "key"),
    )
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.create_index(
            "ix_idempotency_keys_created", ["account_sid", "created_at"], unique=False
        )

    op.create_table(
        "jobs",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("ref", sa.Text(), nullable=False),
        sa.Column("run_at", sa.BigInteger(), nullable=False),
        sa.Column("locked_until", sa.BigInteger(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("kind", "ref", name="uq_jobs_kind_ref"),
    )
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_run_at", ["run_at"], unique=False)

    op.create_table(
        "message_tags",
        sa.Column("message_id", ID, nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.Column("value", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("message_id", "key"),
    )
    with op.batch_alter_table("message_tags", schema=None) as batch_op:
        batch_op.create_index("ix_message_tags_pair", ["key", "value", "message_id"], unique=False)

    op.create_table(
        "messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("recipient_index", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("candidates", sa.Text(), nullable=False),
        sa.Column("candidate_count", sa.Integer(), nullable=False),
        sa.Column("content", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("sender", sa.Text(), nullable=True),
        sa.Column("attempt_count", sa.Integer(), nullable=False),
        sa.Column("next_candidate", sa.Integer(), nullable=False),
        sa.Column("current_attempt_id", ID, nullable=True),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.Column("due_at", sa.BigInteger(), nullable=True),
        sa.Column("scheduled_for", sa.BigInteger(), nullable=True),
        sa.Column("encoding", sa.Text(), nullable=True),
        sa.Column("segments", sa.Integer(), nullable=True),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index("ix_messages_account", ["account_sid", "id"], unique=False)
        batch_op.create_index(
            "ix_messages_due",
            ["due_at"],
            unique=False,
            sqlite_where=sa.text("due_at IS NOT NULL"),
            postgresql_where=sa.text("due_at IS NOT NULL"),
        )
        batch_op.create_index("ix_messages_operation", ["operation_id", "id"], unique=False)

    op.create_table(
        "operation_callbacks",
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("sink_id", ID, nullable=False),
        sa.PrimaryKeyConstraint("operation_id"),
    )
    with op.batch_alter_table("operation_callbacks", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_operation_callbacks_sink_id"), ["sink_id"], unique=False
        )

    op.create_table(
        "operation_recipients",
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("recipients", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("operation_id"),
    )
    op.create_table(
        "operations",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("spec", sa.Text(), nullable=False),
        sa.Column("recipients", sa.Integer(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("unaddressable", sa.Integer(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("scheduled", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("sent", sa.Integer(), nullable=False),
        sa.Column("delivered", sa.Integer(), nullable=False),
        sa.Column("read", sa.Integer(), nullable=False),
        sa.Column("undelivered", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("canceled", sa.Integer(), nullable=False),
        sa.Column("settled", sa.Integer(), nullable=False),
        sa.Column("fanout_cursor", sa.Integer(), nullable=False),
        sa.Column("send_at", sa.BigInteger(), nullable=True),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index("ix_operations_account", ["account_sid", "id"], unique=False)

    op.create_table(
        "sender_pool_members",
        sa.Column("pool_id", ID, nullable=False),
        sa.Column("sender_id", ID, nullable=False),
        sa.Column("position", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("pool_id", "sender_id"),
    )
    with op.batch_alter_table("sender_pool_members", schema=None) as batch_op:
        batch_op.create_index("ix_sender_pool_members_sender", ["sender_id"], unique=False)

    op.create_table(
        "sender_pools",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("is_default", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sender_pools", schema=None) as batch_op:
        batch_op.create_index("ix_sender_pools_account", ["account_sid", "id"], unique=False)

    op.create_table(
        "senders",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("tags", sa.Text(), nullable=False),
        sa.Column("fallback_timeout_ms", sa.BigInteger(), nullable=False),
        sa.Column("receipt_wait_ms", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
        sa.UniqueConstraint("account_sid", "channel", "address", name="uq_senders_address"),
    )
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.create_index("ix_senders_account", ["account_sid", "id"], unique=False)

    op.create_table(
        "sink_deliveries",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sink_id", ID, nullable=False),
        sa.Column("attempted_at", sa.BigInteger(), nullable=False),
        sa.Column("events", sa.Integer(), nullable=False),
        sa.Column("first_event_id", sa.Text(), nullable=False),
        sa.Column("last_event_id", sa.Text(), nullable=False),
        sa.Column("outcome", sa.Text(), nullable=False),
        sa.Column("status_code", sa.Integer(), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("duration_ms", sa.Integer(), nullable=False),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=True),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sink_deliveries", schema=None) as batch_op:
        batch_op.create_index("ix_sink_deliveries_sink", ["sink_id", "id"], unique=False)

    op.create_table(
        "sink_replays",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), nullable=False),
        sa.Column("sink_id", ID, nullable=False),
        sa.Column("since_ms", sa.BigInteger(), nullable=False),
        sa.Column("until_ms", sa.BigInteger(), nullable=False),
        sa.Column("cursor_txid", sa.BigInteger(), nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sink_replays", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_sink_replays_sink_id"), ["sink_id"], unique=False)

    op.create_table(
        "sinks",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("kind", sa.Text(), nullable=False),
        sa.Column("url", sa.Text(), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("secret", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("cursor_txid", sa.BigInteger(), nullable=False),
        sa.Column("cursor_seq", sa.BigInteger(), nullable=False),
        sa.Column("tries", sa.Integer(), nullable=False),
        sa.Column("failing_since", sa.BigInteger(), nullable=True),
        sa.Column("next_attempt_at", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.create_index("ix_sinks_account", ["account_sid", "id"], unique=False)

    op.create_table(
        "subscriptions",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("sink_id", ID, nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.create_index("ix_subscriptions_account", ["account_sid", "id"], unique=False)
        batch_op.create_index(batch_op.f("ix_subscriptions_sink_id"), ["sink_id"], unique=False)

    op.create_table(
        "unaddressable",
        sa.Column("operation_id", ID, nullable=False),
        sa.Column("recipient_index", sa.Integer(), nullable=False),
        sa.Column("recipient", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=False),
        sa.Column("error_message", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("operation_id", "recipient_index"),
    )


def downgrade() -> None:
    op.drop_table("unaddressable")
    with op.batch_alter_table("subscriptions", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_subscriptions_sink_id"))
        batch_op.drop_index("ix_subscriptions_account")

    op.drop_table("subscriptions")
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.drop_index("ix_sinks_account")

    op.drop_table("sinks")
    with op.batch_alter_table("sink_replays", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_sink_replays_sink_id"))

    op.drop_table("sink_replays")
    with op.batch_alter_table("sink_deliveries", schema=None) as batch_op:
        batch_op.drop_index("ix_sink_deliveries_sink")

    op.drop_table("sink_deliveries")
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.drop_index("ix_senders_account")

    op.drop_table("senders")
    with op.batch_alter_table("sender_pools", schema=None) as batch_op:
        batch_op.drop_index("ix_sender_pools_account")

    op.drop_table("sender_pools")
    with op.batch_alter_table("sender_pool_members", schema=None) as batch_op:
        batch_op.drop_index("ix_sender_pool_members_sender")

    op.drop_table("sender_pool_members")
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_account")

    op.drop_table("operations")
    op.drop_table("operation_recipients")
    with op.batch_alter_table("operation_callbacks", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_operation_callbacks_sink_id"))

    op.drop_table("operation_callbacks")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_operation")
        batch_op.drop_index(
            "ix_messages_due",
            sqlite_where=sa.text("due_at IS NOT NULL"),
            postgresql_where=sa.text("due_at IS NOT NULL"),
        )
        batch_op.drop_index("ix_messages_account")

    op.drop_table("messages")
    with op.batch_alter_table("message_tags", schema=None) as batch_op:
        batch_op.drop_index("ix_message_tags_pair")

    op.drop_table("message_tags")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_run_at")

    op.drop_table("jobs")
    with op.batch_alter_table("idempotency_keys", schema=None) as batch_op:
        batch_op.drop_index("ix_idempotency_keys_created")

    op.drop_table("idempotency_keys")
    with op.batch_alter_table("events", schema=None) as batch_op:
        batch_op.drop_index("ix_events_created")
        batch_op.drop_index("ix_events_account")

    op.drop_table("events")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_attempts_message_id"))

    op.drop_table("attempts")
    with op.batch_alter_table("api_keys", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_api_keys_account_sid"))

    op.drop_table("api_keys")
    op.drop_table("accounts")
