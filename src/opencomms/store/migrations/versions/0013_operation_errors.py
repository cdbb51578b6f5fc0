"""indexes for an operation's errors by code: its failed Messages, its unaddressable

Revision ID: 0013
Revises: 0012
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0013"
down_revision = "0012"
branch_labels = None
depends_on = None

FAILED_WITH_CODE = "error_code IS NOT NULL AND status IN ('FAILED', 'UNDELIVERED')"


def upgrade() -> None:
    op.create_index(
        "ix_messages_operation_errors",
        "messages",
        ["operation_id", "error_code", "id"],
        unique=False,
        sqlite_where=sa.text(FAILED_WITH_CODE),
        postgresql_where=sa.text(FAILED_WITH_CODE),
    )
    op.create_index(
        "ix_unaddressable_errors",
        "unaddressable",
        ["operation_id", "error_code", "recipient_index"],
        unique=False,
    )


def downgrade() -> None:
    op.drop_index("ix_unaddressable_errors", table_name="unaddressable")
    op.drop_index("ix_messages_operation_errors", table_name="messages")
