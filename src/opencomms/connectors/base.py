"""The connector interface: what the engine asks of every provider, and what it gets back.

A connector submits attempts and reports receipts; it never touches the database and
never decides retry or fallback (the engine does, from the closed vocabulary below).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from enum import StrEnum
from typing import Any, Protocol

import msgspec

__all__ = [
    "AnswerHandler",
    "Connector",
    "Inbound",
    "InboundHandler",
    "Receipt",
    "ReceiptHandler",
    "Revoker",
    "Submission",
    "SubmitOutcome",
    "SubmitResult",
    "WebhookAnswer",
    "WebhookReceiver",
    "WebhookRequest",
    "submit_each",
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
    # how long the provider may go on trying to deliver (RBM's ttl, Twilio's
    # ValidityPeriod): the sender's fallback timeout when another candidate follows,
    # 0 when none does (the provider's own limit then)
    valid_for_ms: int = 0


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
    # a message the provider took in several parts (SMPP long SMS): every part's id, the
    # first being `provider_message_id`; the attempt is DELIVERED when every part is
    part_ids: tuple[str, ...] = ()


class Receipt(msgspec.Struct, frozen=True):
    """A provider's report on an attempt, found by our attempt id or the provider's id."""

    status: str  # SENT, DELIVERED, READ, UNDELIVERED or FAILED
    attempt_id: str | None = None
    provider_message_id: str | None = None
    error_code: int | None = None
    error_message: str | None = None
    # the connector it came from, set by the engine (engine/provider_ids.py): a receipt
    # moves only an attempt made through that connector
    connector: str | None = None


class Inbound(msgspec.Struct, frozen=True):
    """A message a recipient sent to one of our senders (a reply, STOP, START…)."""

    connector: str
    channel: str
    from_address: str  # the recipient who wrote
    to_address: str  # our sender's address
    text: str
    provider_message_id: str | None = None


# Both handlers queue what they are given and return a future that is done once it is
# stored: a connector that acknowledges to its provider (SMPP's deliver_sm_resp) waits
# for it first, so a crash in between makes the provider send it again, not lose it.
ReceiptHandler = Callable[[Receipt], "asyncio.Future[None]"]
InboundHandler = Callable[[Inbound], "asyncio.Future[None]"]
# Hears a submission's answer as soon as the connector has it, before the rest of its batch.
AnswerHandler = Callable[[SubmitResult], None]


class Connector(Protocol):
    name: str
    channels: frozenset[str]

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        """Connect, and from now on report receipts through `receipts` and messages
        received from recipients through `inbound`."""

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        """Hand over a batch; one result per submission, in any order. A connector that
        answers one submission at a time (SMPP) also reports each result to `answered`
        as it comes, so the engine stores the provider's id without waiting for the
        slowest answer of the batch; one that answers a batch at once may leave it to
        the list it returns."""

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """After a crash, whether these in-flight attempts reached the provider
        (None: it cannot tell, and the engine must not risk a duplicate)."""

    async def close(self) -> None: ...


class WebhookRequest(msgspec.Struct, frozen=True):
    """A provider's HTTP call to `/webhooks/{connector name}`, as received."""

    method: str  # GET (a subscription handshake) or POST (reports)
    url: str  # the full URL the provider called, as `server.public_url` names it
    query: dict[str, str]
    headers: dict[str, str]  # names in lower case
    body: bytes


class WebhookAnswer(msgspec.Struct, frozen=True):
    status: int  # 200 only once every report in the request is stored
    body: bytes = b""
    content_type: str = "text/plain"


class WebhookReceiver(Protocol):
    """A connector whose provider reports over HTTP (RBM, WhatsApp, Twilio)."""

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        """Verify the provider's signature (401/403 and nothing changed when it does not
        verify), hand each report to the handlers given to `start`, wait until every
        one is stored, then answer."""


class Revoker(Protocol):
    """A connector whose provider keeps trying to deliver after we have moved on (RBM
    queues for an offline phone for up to 30 days)."""

    async def revoke(self, submissions: Sequence[Submission]) -> None:
        """Take back these attempts, which the fallback has moved on from, where they
        are not delivered yet; best effort (a receipt that still comes is recorded)."""


async def submit_each(
    submissions: Sequence[Submission],
    submit_one: Callable[[Submission], Awaitable[SubmitResult | None]],
    answered: AnswerHandler | None,
) -> list[SubmitResult]:
    """`submit` for a connector that sends one submission at a time, all at once: each
    result goes to `answered` as it comes; None (an answer lost, left in doubt) is left
    out of the results."""

    async def one(submission: Submission) -> SubmitResult | None:
        result = await submit_one(submission)
        if result is not None and answered is not None:
            answered(result)
        return result

    results = await asyncio.gather(*(one(s) for s in submissions))
    return [result for result in results if result is not None]
