"""Inbound messages: what recipients write back to our senders.

STOP and START keywords move the account's opt-out list; every inbound message is kept
and announced as a `com.twilio.comms-api.message.inbound-received` event.
"""

from __future__ import annotations

from opencomms.connectors.base import Inbound
from opencomms.store.database import Conn

__all__ = ["apply_inbound"]


async def apply_inbound(conn: Conn, messages: list[Inbound]) -> None:
    """Store these inbound messages and apply their keywords."""
    raise NotImplementedError
