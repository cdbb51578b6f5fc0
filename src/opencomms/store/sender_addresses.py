"""Who owns each sender address on each connector: one account, or the operator.

A row (connector, address key) -> account_sid, NULL when the address is the operator's
(a configured or simulator sender, shared by every account). It is written in the
transaction that creates, changes or deletes the senders at that address, so two
accounts can never both hold it: the second registration finds the first one's row (on
PostgreSQL it waits on the primary key until the first commits).
"""

from __future__ import annotations

from collections.abc import Sequence

from opencomms.store.database import Conn, placeholders

__all__ = ["claim", "claim_for_operator", "may_use", "owners", "release"]

OPERATOR = None
"""The owner of an operator's address: every account may use it."""


def may_use(owner: str | None, account_sid: str) -> bool:
    """Whether an account may have a sender at an address with this owner."""
    return owner is OPERATOR or owner == account_sid


async def claim(conn: Conn, connector: str, key: str, account_sid: str) -> bool:
    """Make the address the account's unless it has an owner; whether the account may use
    it now (it was free, is the account's already, or is the operator's)."""
    await conn.execute(
        "INSERT INTO sender_addresses (connector, address_key, account_sid) VALUES (?, ?, ?)"
        " ON CONFLICT (connector, address_key) DO NOTHING",
        connector,
        key,
        account_sid,
    )
    found = await owners(conn, connector, [key])
    return key in found and may_use(found[key], account_sid)


async def claim_for_operator(conn: Conn, connector: str, key: str) -> None:
    """The operator's configuration names this address: it is the operator's, whoever
    registered it before."""
    await conn.execute(
        "INSERT INTO sender_addresses (connector, address_key, account_sid) VALUES (?, ?, NULL)"
        " ON CONFLICT (connector, address_key) DO UPDATE SET account_sid = NULL"
        " WHERE sender_addresses.account_sid IS NOT NULL",
        connector,
        key,
    )


async def release(conn: Conn, connector: str, key: str, account_sid: str) -> None:
    """Free the account's address once none of its senders has it any more (the
    operator's addresses stay the operator's)."""
    await conn.execute(
        "DELETE FROM sender_addresses WHERE connector = ? AND address_key = ? AND account_sid = ?"
        " AND NOT EXISTS (SELECT 1 FROM senders WHERE connector = ? AND address_key = ?"
        " AND account_sid = ?)",
        connector,
        key,
        account_sid,
        connector,
        key,
        account_sid,
    )


async def owners(conn: Conn, connector: str, keys: Sequence[str]) -> dict[str, str | None]:
    """The owner of each of these addresses that has one (None: the operator)."""
    if not keys:
        return {}
    rows = await conn.fetch(
        "SELECT address_key, account_sid FROM sender_addresses"
        f" WHERE connector = ? AND address_key IN ({placeholders(len(keys))})",
        connector,
        *keys,
    )
    return {key: owner for key, owner in rows}
