"""jobs know their account and size: the fan-out claim takes turns between accounts, and
small operations fan out in batches (engine/fanout_batch.py); running operations are
found per account, for the dispatcher's turns between accounts

Revision ID: 0014
Revises: 0013
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0014"
down_revision = "0013"
branch_labels = None
depends_on = None

RUNNING = "status IN ('SCHEDULED', 'PROCESSING')"
OF_OPERATION = "FROM operations WHERE operations.id = jobs.ref"


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("account_sid", sa.Text(), nullable=False, server_default=sa.text("''"))
        )
        batch_op.add_column(
            sa.Column("size", sa.Integer(), nullable=False, server_default=sa.text("0"))
        )
    op.execute(
        f"UPDATE jobs SET account_sid = (SELECT account_sid {OF_OPERATION}),"
        f" size = (SELECT recipients - fanout_cursor {OF_OPERATION})"
        f" WHERE kind = 'fanout' AND EXISTS (SELECT 1 {OF_OPERATION})"
    )
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.create_index(
            "ix_operations_running_account",
            ["account_sid", "id"],
            unique=False,
            sqlite_where=sa.text(RUNNING),
            postgresql_where=sa.text(RUNNING),
        )


def downgrade() -> None:
    with op.batch_alter_table("operations", schema=None) as batch_op:
        batch_op.drop_index("ix_operations_running_account")
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_column("size")
        batch_op.drop_column("account_sid")
