"""opt-outs, inbound messages, message parts and early receipts

Revision ID: 0002
Revises: 0001
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None

# ids compare byte by byte on PostgreSQL (store/schema.py)
ID = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")
SEQ = sa.BigInteger().with_variant(sa.Integer(), "sqlite")


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index(
            "ix_attempts_provider_message_id", ["provider_message_id"], unique=False
        )
    op.create_table(
        "opt_outs",
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("address", sa.Text(), nullable=False),
        sa.Column("id", ID, nullable=False),
        sa.Column("channel", sa.Text(), nullable=True),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("account_sid", "address"),
    )
    with op.batch_alter_table("opt_outs", schema=None) as batch_op:
        batch_op.create_index("ix_opt_outs_id", ["account_sid", "id"], unique=True)
    op.create_table(
        "inbound_messages",
        sa.Column("id", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("channel", sa.Text(), nullable=False),
        sa.Column("from_address", sa.Text(), nullable=False),
        sa.Column("to_address", sa.Text(), nullable=False),
        sa.Column("text", sa.Text(), nullable=False),
        sa.Column("keyword", sa.Text(), nullable=True),
        sa.Column("provider_message_id", sa.Text(), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_table(
        "attempt_parts",
        sa.Column("provider_message_id", sa.Text(), nullable=False),
        sa.Column("attempt_id", ID, nullable=False),
        sa.Column("part", sa.Integer(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("provider_message_id"),
    )
    with op.batch_alter_table("attempt_parts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_attempt_parts_attempt_id"), ["attempt_id"], unique=False
        )
    op.create_table(
        "early_receipts",
        sa.Column("seq", SEQ, nullable=False),
        sa.Column("provider_message_id", sa.Text(), nullable=False),
        sa.Column("status", sa.Text(), nullable=False),
        sa.Column("error_code", sa.Integer(), nullable=True),
        sa.Column("error_message", sa.Text(), nullable=True),
        sa.Column("received_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("seq"),
    )
    with op.batch_alter_table("early_receipts", schema=None) as batch_op:
        batch_op.create_index(
            batch_op.f("ix_early_receipts_provider_message_id"),
            ["provider_message_id"],
            unique=False,
        )


def downgrade() -> None:
    op.drop_table("early_receipts")
    op.drop_table("attempt_parts")
    op.drop_table("inbound_messages")
    op.drop_table("opt_outs")
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_provider_message_id")
