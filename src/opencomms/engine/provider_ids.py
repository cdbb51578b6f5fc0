"""Provider message ids, as the engine stores and matches them: within their connector.

A provider's id is unique only at that provider: two SMSCs may both number their
messages from 1. So every id a connector reports, in an answer or a receipt, is keyed
by the connector's name (`<connector>:<id>`) before it is stored or looked up, and a
receipt can only match an attempt or part sent through the connector it came from.
Connector names cannot hold a ':' (settings.py), so a key reads back one way only.

Every text of an answer or a receipt is also made storable here (domain/storable.py):
a NUL in an SMSC's error text must not stop the batch of reports it arrives with.
"""

from __future__ import annotations

import asyncio

from msgspec.structs import replace

from opencomms.connectors.base import AnswerHandler, Receipt, ReceiptHandler, SubmitResult
from opencomms.domain.storable import storable_id, storable_struct

__all__ = ["keyed_answers", "keyed_receipts", "keyed_result", "provider_key"]


def provider_key(connector: str, provider_id: str) -> str:
    """`<connector>:<id>`, the id made storable and short enough for its index (an id
    longer than any provider's keeps its start and a digest: it still matches)."""
    return f"{connector}:{storable_id(provider_id)}"


def keyed_result(connector: str, result: SubmitResult) -> SubmitResult:
    result = storable_struct(result)
    if result.provider_message_id is None:
        return result  # a refusal, or a connector that names our ids (no parts either)
    return replace(
        result,
        provider_message_id=provider_key(connector, result.provider_message_id),
        part_ids=tuple(provider_key(connector, part) for part in result.part_ids),
    )


def keyed_answers(connector: str, answered: AnswerHandler) -> AnswerHandler:
    """`answered`, hearing the connector's answers with their ids keyed."""
    return lambda result: answered(keyed_result(connector, result))


def keyed_receipts(connector: str, accept: ReceiptHandler) -> ReceiptHandler:
    """The receipt handler a connector is started with: its ids keyed and its name set
    on each receipt, then `accept`."""

    def keyed(receipt: Receipt) -> asyncio.Future[None]:
        receipt = storable_struct(receipt)
        key = receipt.provider_message_id
        if key is not None:
            key = provider_key(connector, key)
        return accept(replace(receipt, provider_message_id=key, connector=connector))

    return keyed
