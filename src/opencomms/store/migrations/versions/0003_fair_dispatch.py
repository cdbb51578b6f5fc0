"""indexes for the dispatcher's fair share between running operations

Revision ID: 0003
Revises: 0002
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None

DUE = "due_at IS NOT NULL"
RUNNING = "status IN ('SCHEDULED', 'PROCESSING')"


def upgrade() -> None:
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.create_index(
            "ix_messages_operation_due",
            ["operation_id", "due_at"],
            unique=False,
            sqlite_where=sa.text(DUE),
            postgresql_where=sa.text(DUE),
        )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_operations_running",
            ["id"],
            unique=False,
            sqlite_where=sa.text(RUNNING),
            postgresql_where=sa.text(RUNNING),
        )


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_running")
    with op.batch_alter_table("messages", schema=None) as batch_op:
        batch_op.drop_index("ix_messages_operation_due")
