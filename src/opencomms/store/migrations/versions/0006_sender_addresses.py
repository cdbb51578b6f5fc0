"""sender addresses belong to one account, or to the operator, on each connector

Every sender gets the key its address is owned under (domain/sender_addresses.py), and
`sender_addresses` records each key's owner. Where several accounts already had senders
at one address on one connector, the oldest sender's account keeps it; the others'
senders stay, but can neither send nor receive until the address is theirs (the
dispatcher skips them, the API answers 409 to changes). The simulator's default
addresses are the operator's; the configured senders' become the operator's again at
the next start, when they are provisioned. Attempts get an index on `to_address`: an
inbound message to an operator's address goes to the account that sent last to its
writer. An inbound message may now have no account.

Revision ID: 0006
Revises: 0005
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

from opencomms.domain.sender_addresses import address_key

revision = "0006"
down_revision = "0005"
branch_labels = None
depends_on = None

# ids compare byte by byte on PostgreSQL (store/schema.py)
ID = sa.Text().with_variant(sa.TEXT(collation="C"), "postgresql")
OPERATOR = None
# the simulator's default senders, in every account (engine/provisioning.py, as of 0006)
SIMULATOR_SENDERS = (
    ("RCS", "opencomms_rcs_agent"),
    ("WHATSAPP", "+15005550006"),
    ("SMS", "+15005550006"),
    ("EMAIL", "noreply@opencomms.test"),
)


def upgrade() -> None:
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.add_column(sa.Column("address_key", sa.Text(), nullable=True))
    op.create_table(
        "sender_addresses",
        sa.Column("connector", sa.Text(), nullable=False),
        sa.Column("address_key", sa.Text(), nullable=False),
        sa.Column("account_sid", ID, nullable=True),
        sa.PrimaryKeyConstraint("connector", "address_key"),
    )
    _key_existing_senders()
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.alter_column("address_key", existing_type=sa.Text(), nullable=False)
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.create_index("ix_attempts_to_address", ["to_address"], unique=False)
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.alter_column("account_sid", existing_type=ID, nullable=True)


def _key_existing_senders() -> None:
    """Key every sender; the oldest sender at each address (by creation, then id) gives
    its account the address, except the simulator's defaults, which are the operator's."""
    bind = op.get_bind()
    rows = bind.execute(
        sa.text(
            "SELECT id, account_sid, address, channel, connector FROM senders"
            " ORDER BY created_at, id"
        )
    ).all()
    owners: dict[tuple[str, str], str | None] = {
        ("simulator", address_key(channel, address)): OPERATOR
        for channel, address in SIMULATOR_SENDERS
    }
    keyed = []
    for sender_id, account_sid, address, channel, connector in rows:
        key = address_key(channel, address)
        keyed.append({"id": sender_id, "key": key})
        owners.setdefault((connector, key), account_sid)
    if keyed:
        bind.execute(sa.text("UPDATE senders SET address_key = :key WHERE id = :id"), keyed)
    bind.execute(
        sa.text(
            "INSERT INTO sender_addresses (connector, address_key, account_sid)"
            " VALUES (:connector, :key, :account)"
        ),
        [
            {"connector": connector, "key": key, "account": account}
            for (connector, key), account in owners.items()
        ],
    )


def downgrade() -> None:
    op.execute("DELETE FROM inbound_messages WHERE account_sid IS NULL")
    with op.batch_alter_table("inbound_messages", schema=None) as batch_op:
        batch_op.alter_column("account_sid", existing_type=ID, nullable=False)
    with op.batch_alter_table("attempts", schema=None) as batch_op:
        batch_op.drop_index("ix_attempts_to_address")
    op.drop_table("sender_addresses")
    with op.batch_alter_table("senders", schema=None) as batch_op:
        batch_op.drop_column("address_key")
