"""on SQLite, an event's seq is never given again (AUTOINCREMENT)

Without it SQLite gives a new row the largest rowid in the table plus one: once the
pruner had deleted every event (all delivered, all past retention), seqs started again
from 1, below every sink's cursor and the delivery worker's watch, and those events
were never delivered. PostgreSQL's sequence never goes back; nothing changes there.

Revision ID: 0009
Revises: 0008
"""

from __future__ import annotations

from alembic import op

revision = "0009"
down_revision = "0008"
branch_labels = None
depends_on = None


def upgrade() -> None:
    _rebuild(autoincrement=True)


def downgrade() -> None:
    _rebuild(autoincrement=False)


def _rebuild(*, autoincrement: bool) -> None:
    if op.get_bind().dialect.name != "sqlite":
        return
    with op.batch_alter_table(
        "events", recreate="always", table_kwargs={"sqlite_autoincrement": autoincrement}
    ):
        pass
