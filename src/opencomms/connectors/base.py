"""The connector interface: what the engine asks of every provider, and what it gets back.

A connector submits attempts and reports receipts; it never touches the database and
never decides retry or fallback (the engine does, from the closed vocabulary below).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol

import msgspec

__all__ = [
    "Connector",
    "Receipt",
    "ReceiptHandler",
    "Submission",
    "SubmitOutcome",
    "SubmitResult",
]


class Submission(msgspec.Struct, frozen=True):
    """One attempt to hand to a provider."""

    attempt_id: str
    message_id: str
    operation_id: str
    account_sid: str
    channel: str
    from_address: str
    to_address: str
    content: dict[str, Any]


class SubmitOutcome(StrEnum):
    ACCEPTED = "ACCEPTED"  # the provider took it: the attempt is SENT
    REJECTED = "REJECTED"  # permanently refused: the attempt FAILED, fallback may move on
    THROTTLED = "THROTTLED"  # refused for now: submit the same attempt again later


class SubmitResult(msgspec.Struct, frozen=True):
    attempt_id: str
    outcome: SubmitOutcome
    provider_message_id: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    retry_after_ms: int = 0


class Receipt(msgspec.Struct, frozen=True):
    """A provider's report on an attempt, found by our attempt id or the provider's id."""

    status: str  # SENT, DELIVERED, READ, UNDELIVERED or FAILED
    attempt_id: str | None = None
    provider_message_id: str | None = None
    error_code: int | None = None
    error_message: str | None = None


ReceiptHandler = Callable[[Receipt], None]


class Connector(Protocol):
    name: str
    channels: frozenset[str]

    async def start(self, receipts: ReceiptHandler) -> None:
        """Connect, and from now on report receipts through `receipts`."""

    async def submit(self, submissions: Sequence[Submission]) -> list[SubmitResult]:
        """Hand over a batch; one result per submission, in any order."""

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """After a crash, whether these in-flight attempts reached the provider
        (None: it cannot tell, and the engine must not risk a duplicate)."""

    async def close(self) -> None: ...
