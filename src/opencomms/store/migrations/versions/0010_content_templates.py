"""content templates (`/v1/Content`)

Revision ID: 0010
Revises: 0009
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision = "0009"
branch_labels = None
depends_on = None

# ids compare byte by byte on PostgreSQL (store/schema.py)
ID = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")


def upgrade() -> None:
    op.create_table(
        "content_templates",
        sa.Column("sid", ID, nullable=False),
        sa.Column("account_sid", ID, nullable=False),
        sa.Column("friendly_name", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=False),
        sa.Column("variables", sa.Text(), nullable=False),
        sa.Column("types", sa.Text(), nullable=False),
        sa.Column("created_at", sa.BigInteger(), nullable=False),
        sa.Column("updated_at", sa.BigInteger(), nullable=False),
        sa.PrimaryKeyConstraint("sid"),
    )
    op.create_index(
        "ix_content_templates_account", "content_templates", ["account_sid", "sid"], unique=True
    )


def downgrade() -> None:
    op.drop_table("content_templates")
