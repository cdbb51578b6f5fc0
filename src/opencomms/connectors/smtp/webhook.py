"""`/webhooks/{connector}` of an smtp connector: bounces a provider reports over HTTP,
and the one-click unsubscribe POSTs of RFC 8058 (docs/smtp.md).

A bounce report is `{"bounces": [{"envelope_id", "action", "status"?, "recipient"?,
"diagnostic"?}]}` (dsn.py's `BounceReport`), signed `X-Opencomms-Signature: sha256=`
and the hex HMAC-SHA256 of the body under `webhook_secret`: 401 without it, 403 when
it does not match, 400 when the body is not a report; 200 once every receipt is stored.

An unsubscribe is a POST of `List-Unsubscribe=One-Click` to the link of a mail
(`?unsubscribe=<token>`, unsubscribe.py). The recipient is heard as having written
UNSUBSCRIBE to our sender (an inbound message: a STOP keyword), so the engine puts the
address on the opt-out list of the account that owns the sender, as for a STOP by SMS.
A GET of the link (a mail scanner following it) changes nothing (RFC 8058 section 3.2).
"""

from __future__ import annotations

import asyncio
from urllib.parse import parse_qs

import msgspec

from opencomms.connectors.base import (
    Inbound,
    InboundHandler,
    Receipt,
    ReceiptHandler,
    WebhookAnswer,
    WebhookRequest,
)
from opencomms.connectors.smtp.dsn import BounceReport, bounce_receipts
from opencomms.connectors.smtp.mime import ONE_CLICK
from opencomms.connectors.smtp.unsubscribe import read_token, signature_matches

__all__ = ["SIGNATURE_HEADER", "UNSUBSCRIBE_TEXT", "WebhookHandler"]

SIGNATURE_HEADER = "x-opencomms-signature"
UNSUBSCRIBE_TEXT = "UNSUBSCRIBE"  # a STOP keyword (domain/keywords.py)


class WebhookHandler:
    def __init__(self, name: str, secret: str) -> None:
        self._name = name
        self._secret = secret
        self._receipts: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None

    def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts
        self._inbound = inbound

    async def store(self, receipts: list[Receipt]) -> None:
        """Hand each receipt to the engine; done once every one is stored."""
        if self._receipts is None:
            raise RuntimeError("the smtp connector is not started")
        await asyncio.gather(*(self._receipts(receipt) for receipt in receipts))

    async def answer(self, request: WebhookRequest) -> WebhookAnswer:
        if not self._secret:
            return WebhookAnswer(404, b"this connector takes no webhooks (no webhook_secret)")
        if "unsubscribe" in request.query:
            return await self._unsubscribe(request)
        if request.method != "POST":
            return WebhookAnswer(405)
        signature = request.headers.get(SIGNATURE_HEADER)
        if not signature:
            return WebhookAnswer(401, b"X-Opencomms-Signature missing")
        if not signature_matches(self._secret, request.body, signature):
            return WebhookAnswer(403, b"X-Opencomms-Signature does not match")
        try:
            report = msgspec.json.decode(request.body, type=BounceReport)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            return WebhookAnswer(400, f"not a bounce report: {error}".encode())
        await self.store(bounce_receipts(report.bounces))
        return WebhookAnswer(200)

    async def _unsubscribe(self, request: WebhookRequest) -> WebhookAnswer:
        what = read_token(self._secret, request.query["unsubscribe"])
        if what is None:
            return WebhookAnswer(403, b"this unsubscribe link is not one of ours")
        if request.method == "GET":
            return WebhookAnswer(200, b"To unsubscribe, use your mail program's unsubscribe.")
        form = parse_qs(request.body.decode("utf-8", "replace"))
        if form.get("List-Unsubscribe") != ["One-Click"]:
            return WebhookAnswer(400, f"the body must be {ONE_CLICK}".encode())
        if self._inbound is None:
            return WebhookAnswer(503, b"not started")
        heard = Inbound(
            connector=self._name,
            channel="EMAIL",
            from_address=what.recipient,
            to_address=what.sender,
            text=UNSUBSCRIBE_TEXT,
            provider_message_id=f"unsubscribe:{what.attempt_id}",
        )
        await self._inbound(heard)
        return WebhookAnswer(200, b"unsubscribed")
