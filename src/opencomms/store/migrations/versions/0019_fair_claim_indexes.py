"""the fan-out claim reads each account's oldest jobs, and the few large ones, by index
instead of sorting every due job (store/jobs.py `claim_fair`)

Revision ID: 0019
Revises: 0018
"""

from __future__ import annotations

from alembic import op

revision = "0019"
down_revision = "0018"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.create_index("ix_jobs_fair", ["kind", "account_sid", "run_at", "id"])
        batch_op.create_index("ix_jobs_size", ["kind", "size"])


def downgrade() -> None:
    with op.batch_alter_table("jobs", schema=None) as batch_op:
        batch_op.drop_index("ix_jobs_size")
        batch_op.drop_index("ix_jobs_fair")
