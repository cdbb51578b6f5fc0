"""several batches of a sink in flight: what each lane delivered beyond the cursor

Revision ID: 0017
Revises: 0016
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0017"
down_revision = "0016"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("lane_progress", sa.Text(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.drop_column("lane_progress")
