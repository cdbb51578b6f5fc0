"""inbound messages are found by their provider's id, so a repeat is stored once

Revision ID: 0011
Revises: 0010
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0011"
down_revision = "0010"
branch_labels = None
depends_on = None

HAS_ID = "provider_message_id IS NOT NULL"


def upgrade() -> None:
    op.create_index(
        "ix_inbound_messages_provider_id",
        "inbound_messages",
        ["connector", "provider_message_id"],
        unique=False,
        sqlite_where=sa.text(HAS_ID),
        postgresql_where=sa.text(HAS_ID),
    )


def downgrade() -> None:
    op.drop_index("ix_inbound_messages_provider_id", table_name="inbound_messages")
