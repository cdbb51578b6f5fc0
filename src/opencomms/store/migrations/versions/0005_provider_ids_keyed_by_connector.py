"""provider ids are stored keyed by their connector (`<connector>:<id>`)

Two SMSCs may give the same id; engine/provider_ids.py keys every id by its connector
before it is stored or matched. Ids stored before are keyed here, so receipts still on
their way find their attempts and parts. A receipt that came before its answer and is
still waiting cannot be told apart by connector: it stays unkeyed and is dropped after
the usual week (its Message settles by its sender's receipt wait).

Revision ID: 0005
Revises: 0004
"""

from __future__ import annotations

from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.execute(
        "UPDATE attempts SET provider_message_id = connector || ':' || provider_message_id"
        " WHERE provider_message_id IS NOT NULL"
    )
    op.execute(
        "UPDATE attempt_parts SET provider_message_id ="
        " (SELECT a.connector FROM attempts a WHERE a.id = attempt_parts.attempt_id)"
        " || ':' || provider_message_id"
        " WHERE EXISTS (SELECT 1 FROM attempts a WHERE a.id = attempt_parts.attempt_id)"
    )


def downgrade() -> None:
    op.execute(
        "UPDATE attempts SET provider_message_id ="
        " substr(provider_message_id, length(connector) + 2)"
        " WHERE provider_message_id LIKE connector || ':%'"
    )
    op.execute(
        "UPDATE attempt_parts SET provider_message_id ="
        " substr(provider_message_id, length((SELECT a.connector FROM attempts a"
        "  WHERE a.id = attempt_parts.attempt_id)) + 2)"
        " WHERE provider_message_id LIKE (SELECT a.connector FROM attempts a"
        "  WHERE a.id = attempt_parts.attempt_id) || ':%'"
    )
