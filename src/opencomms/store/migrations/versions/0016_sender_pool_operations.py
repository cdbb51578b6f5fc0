"""SenderPool Operations (Twilio's record of each pool create and add of senders), and
the senders' display name

Revision ID: 0016
Revises: 0015
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0016"
down_revision = "0015"
branch_labels = None
depends_on = None

Id = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "sender_pool_operations",
        sa.Column("id", Id, nullable=False),
        sa.Column("account_sid", Id, nullable=False),
        sa.Column("pool_id", Id, nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("total", sa.Integer(), nullable=False),
        sa.Column("queued", sa.Integer(), nullable=False),
        sa.Column("created", sa.Integer(), nullable=False),
        sa.Column("failed", sa.Integer(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "ix_sender_pool_operations_account",
        "sender_pool_operations",
        ["account_sid", "id"],
        unique=False,
    )
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("display_name", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.drop_column("display_name")
    op.drop_index("ix_sender_pool_operations_account", table_name="sender_pool_operations")
    op.drop_table("sender_pool_operations")
