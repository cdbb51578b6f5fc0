"""webhook signing keys are stored sealed; callback sinks know when they were last used

Sinks' and accounts' Standard Webhooks secrets were stored in the clear; they are sealed
here with the server's key, as auth tokens are (`secret` becomes `secret_sealed`,
`webhook_secret` becomes `webhook_secret_sealed`). The key comes from whoever runs the
migration, as `config.attributes["sealer"]` (store/migrate.py): the server at start, or
`opencomms migrate --config`. It is checked against a stored auth token first, so a
wrong key stops the migration rather than sealing secrets nobody can open.

Also: `last_used_at` (a callback sink expires unused) and the index of sinks waiting to
retry (the only sinks the delivery worker looks at by time alone).

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from collections.abc import Callable

import sqlalchemy as sa
from alembic import context, op
from cryptography.exceptions import InvalidTag

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# (table, key column, secret column before, after)
SECRETS = (
    ("sinks", "id", "secret", "secret_sealed"),
    ("accounts", "sid", "webhook_secret", "webhook_secret_sealed"),
)


def upgrade() -> None:
    # the key is checked before any change: SQLite runs DDL outside the transaction
    sealed = _converted(_stored(before=True), "seal")
    for table, _, clear, after in SECRETS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(clear, new_column_name=after)
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.add_column(sa.Column("last_used_at", sa.BigInteger(), nullable=True))
        batch_op.create_index("ix_sinks_retry", ["tries", "next_attempt_at"], unique=False)
    op.execute("UPDATE sinks SET last_used_at = updated_at WHERE kind = 'callback'")
    _store(sealed, before=False)


def downgrade() -> None:
    clear = _converted(_stored(before=False), "unseal")
    with op.batch_alter_table("sinks", schema=None) as batch_op:
        batch_op.drop_index("ix_sinks_retry")
        batch_op.drop_column("last_used_at")
    for table, _, before, sealed in SECRETS:
        with op.batch_alter_table(table, schema=None) as batch_op:
            batch_op.alter_column(sealed, new_column_name=before)
    _store(clear, before=True)


Secrets = dict[str, list[tuple[str, str]]]  # table: [(key, secret)]


def _stored(*, before: bool) -> Secrets:
    """Every non-empty webhook secret, by table."""
    bind = op.get_bind()
    found: Secrets = {}
    for table, key, clear, sealed in SECRETS:
        column = clear if before else sealed
        rows = bind.execute(sa.text(f"SELECT {key}, {column} FROM {table} WHERE {column} <> ''"))
        found[table] = [(row[0], row[1]) for row in rows]
    return found


def _converted(secrets: Secrets, direction: str) -> Secrets:
    if not any(secrets.values()):
        return secrets
    change = _sealer_method(op.get_bind(), direction)
    return {table: [(key, change(value)) for key, value in rows] for table, rows in secrets.items()}


def _store(secrets: Secrets, *, before: bool) -> None:
    bind = op.get_bind()
    for table, key, clear, sealed in SECRETS:
        column = clear if before else sealed
        for identifier, value in secrets[table]:
            bind.execute(
                sa.text(f"UPDATE {table} SET {column} = :value WHERE {key} = :id"),
                {"value": value, "id": identifier},
            )


def _sealer_method(bind: sa.Connection, direction: str) -> Callable[[str], str]:
    sealer = context.config.attributes.get("sealer")
    if sealer is None:
        raise RuntimeError(
            "the stored webhook secrets are sealed with the server's key, which this"
            " migration was not given: run `opencomms migrate --config <file>` (or start"
            " the server, which migrates with its key)"
        )
    token = bind.execute(sa.text("SELECT auth_token_sealed FROM accounts LIMIT 1")).scalar()
    if token is not None:
        try:
            sealer.unseal(token)
        except (InvalidTag, ValueError):
            raise RuntimeError(
                "the server key given does not open the auth tokens already stored: check"
                " [server] secret_key_file / OPENCOMMS_SECRET_KEY"
            ) from None
    method: Callable[[str], str] = getattr(sealer, direction)
    return method
