"""retention: the indexes the pruner walks, and the record of pruned operations

Each index lets the pruner find the oldest rows of one kind without scanning the table
(store/retention.py); `pruned_operations` remembers what was deleted, so that a GET of a
pruned operation or Message says so.

Revision ID: 0008
Revises: 0007
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op
from sqlalchemy.dialects import postgresql

revision = "0008"
down_revision = "0007"
branch_labels = None
depends_on = None

FINISHED = "status IN ('COMPLETED', 'CANCELED')"
Id = sa.Text().with_variant(postgresql.TEXT(collation="C"), "postgresql")

INDEXES = (
    ("ix_events_operation", "events", ["operation_id"]),
    ("ix_sink_deliveries_attempted", "sink_deliveries", ["attempted_at"]),
    ("ix_idempotency_keys_expiry", "idempotency_keys", ["created_at"]),
    ("ix_inbound_messages_received", "inbound_messages", ["received_at"]),
)


def upgrade() -> None:
    op.create_index(
        "ix_operations_finished",
        "operations",
        ["updated_at"],
        sqlite_where=sa.text(FINISHED),
        postgresql_where=sa.text(FINISHED),
    )
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns)
    op.create_table(
        "pruned_operations",
        sa.Column("id", Id, primary_key=True),
        sa.Column("account_sid", Id, nullable=False),
        sa.Column("first_message_id", Id, nullable=True),
        sa.Column("last_message_id", Id, nullable=True),
        sa.Column("finished_at", sa.BigInteger, nullable=False),
        sa.Column("pruned_at", sa.BigInteger, nullable=False),
        sa.Column("cleared", sa.Integer, nullable=False),
    )
    op.create_index(
        "ix_pruned_operations_messages", "pruned_operations", ["account_sid", "first_message_id"]
    )
    op.create_index("ix_pruned_operations_age", "pruned_operations", ["cleared", "pruned_at"])


def downgrade() -> None:
    op.drop_table("pruned_operations")
    for name, table, _ in INDEXES:
        op.drop_index(name, table_name=table)
    op.drop_index("ix_operations_finished", table_name="operations")
