"""an index of each account's running operations, which its backlog is read from

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


def upgrade() -> None:
    op.create_index(
        "ix_operations_account_running",
        "operations",
        ["account_sid"],
        unique=False,
        sqlite_where=sa.text(RUNNING),
        postgresql_where=sa.text(RUNNING),
    )


def downgrade() -> None:
    op.drop_index("ix_operations_account_running", table_name="operations")
