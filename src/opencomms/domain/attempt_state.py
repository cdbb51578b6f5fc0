"""An attempt's state: one try of a Message through one sender, from claim to receipt."""

from __future__ import annotations

import msgspec

__all__ = ["AttemptState"]


class AttemptState(msgspec.Struct, frozen=True):
    """An attempt as the `attempts` table holds it (every column)."""

    id: str
    message_id: str
    operation_id: str
    account_sid: str
    number: int  # 1 for the Message's first attempt
    sender_id: str
    connector: str
    channel: str  # the sender's
    from_address: str
    to_address: str
    to_channel: str  # the recipient address's
    status: str
    in_flight: bool  # handed to its connector, no answer recorded yet
    submitted_at: int | None
    provider_message_id: str | None
    error_code: int | None
    error_message: str | None
    attempted_at: int
    updated_at: int
