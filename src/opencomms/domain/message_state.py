"""A Message's delivery state: what dispatch, receipts and cancel read and change.

The store reads it from the `messages` table (store/dispatch_state.py) and writes the
changed ones back; the engine decides each change with `msgspec.structs.replace`.
"""

from __future__ import annotations

from typing import Any

import msgspec

from opencomms.domain.attempt_state import AttemptState
from opencomms.domain.candidates import Candidate

__all__ = ["AttemptAndMessage", "DueMessage", "MessageState"]


class MessageState(msgspec.Struct, frozen=True):
    """A Message's mutable delivery state, as `save_messages` writes it back."""

    id: str
    operation_id: str
    status: str
    settled: bool  # no further attempt is planned
    attempt_count: int
    next_candidate: int  # the index, in its candidates, of the next one to try
    candidate_count: int
    current_attempt_id: str | None
    channel: str | None  # of the current attempt
    sender: dict[str, str] | None  # the current attempt's from, or the planned one before any
    due_at: int | None  # when the dispatcher must next look at it
    error_code: int | None
    error_message: str | None


class DueMessage(msgspec.Struct, frozen=True):
    """A Message whose time has come, as a claim hands it to planning: its state, what it
    may be sent through, what it says, and its current attempt (if any)."""

    state: MessageState
    account_sid: str
    candidates: list[Candidate]
    content: dict[str, Any]
    current: AttemptState | None


class AttemptAndMessage(msgspec.Struct, frozen=True):
    """An attempt, with its Message's state (what a submit answer or a receipt moves)."""

    attempt: AttemptState
    message: MessageState
