"""New Messages: what fan-out makes of an operation's recipients, a chunk at a time.

Each addressable recipient becomes one Message (QUEUED, SCHEDULED, or FAILED when it
cannot be sent at all); a recipient no sender can reach is recorded as unaddressable.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opencomms.domain.candidates import Candidate
from opencomms.domain.recipients import Recipient

__all__ = ["FanoutChunk", "NewMessage", "Unaddressable"]


class NewMessage(msgspec.Struct, frozen=True):
    """A Message as fan-out makes it: no attempt yet."""

    id: str
    account_sid: str
    operation_id: str
    recipient_index: int  # in the operation's request
    status: str
    recipient: list[dict[str, str]]  # its addresses: {"address": ..., "channel": ...}
    candidates: list[Candidate]  # the ways it may be sent, in the order they are tried
    content: dict[str, Any]  # personalized for this recipient
    tags: dict[str, str]
    settled: bool  # born settled: FAILED before any attempt
    due_at: int | None  # when the dispatcher takes it (None: never)
    scheduled_for: int | None
    encoding: str | None  # of its SMS text, when an SMS sender may send it
    segments: int | None
    error_code: int | None
    error_message: str | None
    created_at: int
    # the `from` it is planned to go with (its first way), shown until an attempt is made
    sender: dict[str, str] | None = None


class Unaddressable(msgspec.Struct, frozen=True):
    """A recipient that no sender of its operation can reach: no Message is made."""

    recipient_index: int
    recipient: Recipient
    error_code: int
    error_message: str


class FanoutChunk(msgspec.Struct):
    """What fan-out makes of the recipients [start, end) of an operation."""

    start: int
    end: int
    messages: list[NewMessage] = msgspec.field(default_factory=list)
    unaddressable: list[Unaddressable] = msgspec.field(default_factory=list)
