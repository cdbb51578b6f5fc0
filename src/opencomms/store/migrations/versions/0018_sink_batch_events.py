"""a sink's `batch_events`: false posts each event alone, as one CloudEvent object

Revision ID: 0018
Revises: 0017
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0018"
down_revision = "0017"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("batch_events", sa.Boolean(), nullable=False, server_default=sa.true())
        )


def downgrade() -> None:
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.drop_column("batch_events")
