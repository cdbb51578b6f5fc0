"""the provider-id index of attempts holds only attempts that have one

Revision ID: 0004
Revises: 0003
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

HAS_ID = "provider_message_id IS NOT NULL"


def upgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_provider_message_id")
        batch_op.create_index(
            "ix_attempts_provider_message_id",
            ["provider_message_id"],
            unique=False,
            sqlite_where=sa.text(HAS_ID),
            postgresql_where=sa.text(HAS_ID),
        )


def downgrade() -> None:
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_provider_message_id")
        batch_op.create_index(
            "ix_attempts_provider_message_id", ["provider_message_id"], unique=False
        )
