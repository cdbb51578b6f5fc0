"""The `rbm` connector: RCS through Google's RCS Business Messaging (docs/rbm.md).

`submit()` sends each submission as `phones.agentMessages.create`, at most
`concurrency` requests at a time and `throughput` a second, shared fairly between
accounts and operations (connectors/pacing.py). The message's `messageId` is a UUID
derived from the attempt id, and RBM ignores a message whose id it has seen: so a
submission whose answer was lost is sent again (THROTTLED), and after a crash
`was_submitted` answers False for every attempt, the engine sends it again with the
same id, and the phone still gets it once.

Receipts and replies come to `webhook()`: verified, handed to the engine, and answered
200 once stored; an event seen lately (by its id) is acknowledged and not handed twice.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import uuid
from collections import OrderedDict
from collections.abc import Sequence
from typing import Any
from urllib.parse import quote

import httpx
import msgspec

from opencomms.connectors.base import (
    AnswerHandler,
    Inbound,
    InboundHandler,
    ReceiptHandler,
    Submission,
    SubmitOutcome,
    SubmitResult,
    WebhookAnswer,
    WebhookRequest,
    submit_each,
)
from opencomms.connectors.pacing import FairPacer
from opencomms.connectors.rbm import errors
from opencomms.connectors.rbm.config import RbmConfig
from opencomms.connectors.rbm.content import ContentError, agent_message
from opencomms.connectors.rbm.tokens import TokenError, TokenSource
from opencomms.connectors.rbm.webhook import (
    Handshake,
    Malformed,
    parse_post,
    read_event,
    signature_valid,
)
from opencomms.domain.durations import parse_duration_ms
from opencomms.domain.errors import UNKNOWN

__all__ = ["MESSAGE_ID_NAMESPACE", "RbmConnector", "message_id_for"]

log = logging.getLogger(__name__)

# the namespace of the UUIDv5 messageIds: the same attempt id, the same messageId
MESSAGE_ID_NAMESPACE = uuid.UUID("6f1c2d0e-5b7a-4c1e-9d3f-2a8b7e4c9d10")


def message_id_for(attempt_id: str) -> str:
    """The RBM messageId of an attempt, the same whenever it is sent."""
    return str(uuid.uuid5(MESSAGE_ID_NAMESPACE, attempt_id))


class _NoAnswer(Exception):
    """The request got no HTTP answer, or no token could be had for it."""


class RbmConnector:
    channels: frozenset[str] = frozenset({"RCS"})
    # THROTTLED without a Retry-After: this many seconds, doubling with each throttled
    # answer in a row, up to backoff_max
    backoff_min: float = 1.0
    backoff_max: float = 30.0
    recent_ids: int = 100_000  # events remembered, to drop a repeat

    def __init__(self, name: str, config: RbmConfig) -> None:
        self.name = name
        self._config = config
        self._agent = config.agent_id
        self._client_token = config.client_token
        self._base = config.base_url.rstrip("/")
        timeout_ms = parse_duration_ms(config.request_timeout)
        if timeout_ms is None:
            raise ValueError(f"rbm: request_timeout is not a duration: {config.request_timeout!r}")
        self._client = httpx.AsyncClient(timeout=timeout_ms / 1000, follow_redirects=False)
        self._tokens = TokenSource(config.service_account(), self._client)
        self._pacer = FairPacer(config.throughput)
        self._slots = asyncio.Semaphore(config.concurrency)
        self._throttled = 0  # throttled answers in a row
        self._seen: OrderedDict[str, None] = OrderedDict()  # events stored lately
        # messageId -> attempt id of what this process sent lately: an event on one of
        # them names our attempt, so it moves it even before the send's answer is
        # recorded (instead of waiting as an early receipt for the sweep)
        self._sent: OrderedDict[str, str] = OrderedDict()
        self._storing: dict[str, asyncio.Future[None]] = {}  # events being stored
        self._receipts: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None

    def __repr__(self) -> str:
        return f"RbmConnector({self.name!r}, agent_id={self._agent!r}, base_url={self._base!r})"

    # --- the Connector interface ------------------------------------------------------

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts
        self._inbound = inbound

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        return await submit_each(submissions, self._submit_one, answered)

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """False for every attempt: sending one again is safe, as it goes with the same
        messageId, which RBM ignores when it has it (docs/rbm.md, "after a crash")."""
        return dict.fromkeys(attempt_ids, False)

    async def revoke(self, submissions: Sequence[Submission]) -> None:
        """Take back undelivered messages (`phones.agentMessages.delete`); a 404 means it
        was delivered already. Best effort: failures are logged."""
        await asyncio.gather(*(self._revoke_one(s) for s in submissions))

    async def close(self) -> None:
        await self._client.aclose()

    # --- submitting -------------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult:
        attempt_id = submission.attempt_id
        if submission.channel != "RCS":
            return _rejected(attempt_id, UNKNOWN.code, "the rbm connector sends RCS only")
        try:
            body = agent_message(submission.content, submission.valid_for_ms)
        except ContentError as error:
            return _rejected(attempt_id, errors.CONTENT_REFUSED, str(error))
        message_id = message_id_for(attempt_id)
        self._remember(self._sent, message_id, attempt_id)
        url = f"{self._phone(submission.to_address)}/agentMessages"
        params = {"messageId": message_id, "agentId": self._agent}
        await self._pacer.turn(submission.account_sid, submission.operation_id)
        try:
            response = await self._request("POST", url, params, body)
        except _NoAnswer as error:
            log.warning("rbm %s: send %s: %s", self.name, attempt_id, error)
            return self._throttled_result(attempt_id, None)
        return self._result(attempt_id, message_id, response)

    def _result(self, attempt_id: str, message_id: str, response: httpx.Response) -> SubmitResult:
        answer = errors.answer_for(response.status_code)
        if answer.outcome is SubmitOutcome.ACCEPTED:
            self._throttled = 0
            return SubmitResult(attempt_id, SubmitOutcome.ACCEPTED, provider_message_id=message_id)
        message = errors.error_message(response.status_code, _json(response))
        if answer.outcome is SubmitOutcome.THROTTLED:
            log.warning("rbm %s: send %s: %s", self.name, attempt_id, message)
            return self._throttled_result(attempt_id, response.headers.get("retry-after"))
        return _rejected(attempt_id, answer.code or UNKNOWN.code, message)

    def _throttled_result(self, attempt_id: str, retry_after: str | None) -> SubmitResult:
        delay = _retry_after_s(retry_after)
        if delay is None:
            delay = min(self.backoff_max, self.backoff_min * 2 ** min(self._throttled, 30))
        self._throttled += 1
        return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=round(delay * 1000))

    async def _request(
        self, method: str, url: str, params: dict[str, str], body: Any = None
    ) -> httpx.Response:
        """The answer to one request, with a fresh token and again once after a 401."""
        async with self._slots:
            try:
                token = await self._tokens.token()
                response = await self._send(method, url, params, body, token)
                if response.status_code == 401:
                    token = await self._tokens.refresh(token)
                    response = await self._send(method, url, params, body, token)
            except TokenError as error:
                log.error("rbm %s: no access token: %s", self.name, error)
                raise _NoAnswer(str(error)) from None
            except httpx.HTTPError as error:
                raise _NoAnswer(f"{type(error).__name__} from {self._base}") from None
        return response

    async def _send(
        self, method: str, url: str, params: dict[str, str], body: Any, token: str
    ) -> httpx.Response:
        headers = {"Authorization": f"Bearer {token}"}
        return await self._client.request(method, url, params=params, json=body, headers=headers)

    async def _revoke_one(self, submission: Submission) -> None:
        message_id = message_id_for(submission.attempt_id)
        url = f"{self._phone(submission.to_address)}/agentMessages/{message_id}"
        try:
            response = await self._request("DELETE", url, {"agentId": self._agent})
        except _NoAnswer as error:
            log.warning("rbm %s: revoke %s: %s", self.name, submission.attempt_id, error)
            return
        if response.status_code not in (200, 404):
            why = errors.error_message(response.status_code, _json(response))
            log.warning("rbm %s: revoke %s: %s", self.name, submission.attempt_id, why)

    def _phone(self, address: str) -> str:
        return f"{self._base}/v1/phones/{quote(address, safe='+')}"

    # --- receiving --------------------------------------------------------------------

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        """The handshake, or one signed event: answered 200 once it is stored."""
        if request.method != "POST":
            return WebhookAnswer(405, b"POST only")
        try:
            post = parse_post(request.body)
            if isinstance(post, Handshake):
                return self._handshake(post)
            signature = request.headers.get("x-goog-signature")
            if not signature_valid(self._client_token, post, signature):
                log.warning("rbm %s: a webhook post without a valid X-Goog-Signature", self.name)
                return WebhookAnswer(401, b"bad signature")
            event = read_event(post)
        except Malformed as error:
            return WebhookAnswer(400, str(error).encode())
        try:
            await self._hand_over(event)
        except Exception:
            log.exception("rbm %s: a webhook event could not be stored", self.name)
            return WebhookAnswer(503, b"not stored; post it again")
        return WebhookAnswer(200)

    def _handshake(self, handshake: Handshake) -> WebhookAnswer:
        token = handshake.client_token.encode()
        if not self._client_token or not hmac.compare_digest(token, self._client_token.encode()):
            log.warning("rbm %s: a webhook handshake with another client token", self.name)
            return WebhookAnswer(403, b"unknown client token")
        return WebhookAnswer(200, handshake.secret.encode())

    async def _hand_over(self, event: dict[str, Any]) -> None:
        """Hand the event to the engine and wait until it is stored; only then is it
        remembered (a failure to store answers 503, and RBM posts it again). A repeat of
        an event being stored waits for that one."""
        key = _event_key(event)
        if key is not None:
            if key in self._seen:
                return
            if (storing := self._storing.get(key)) is not None:
                await asyncio.shield(storing)
                return
        stored = self._report(event)
        if stored is not None:
            if key is not None:
                self._storing[key] = stored
            try:
                await stored
            finally:
                if key is not None:
                    self._storing.pop(key, None)
        if key is not None:
            self._remember(self._seen, key, None)

    def _remember(self, recent: OrderedDict[str, Any], key: str, value: Any) -> None:
        recent[key] = value
        while len(recent) > self.recent_ids:
            recent.popitem(last=False)

    def _report(self, event: dict[str, Any]) -> asyncio.Future[None] | None:
        """The engine's future for the receipt or message the event reports, if any."""
        event_type, message_id = event.get("eventType"), event.get("messageId")
        if not isinstance(message_id, str):
            return None
        if isinstance(event_type, str):
            receipt = errors.receipt_for(event_type, message_id)
            if receipt is None or self._receipts is None:
                return None
            if (attempt_id := self._sent.get(message_id)) is not None:
                receipt = msgspec.structs.replace(receipt, attempt_id=attempt_id)
            return self._receipts(receipt)
        inbound = self._inbound_message(event, message_id)
        if inbound is None or self._inbound is None:
            return None
        return self._inbound(inbound)

    def _inbound_message(self, event: dict[str, Any], message_id: str) -> Inbound | None:
        """A user's text or tapped suggestion; other user messages (location, file) are
        not carried."""
        sender, text = event.get("senderPhoneNumber"), event.get("text")
        suggestion = event.get("suggestionResponse")
        if text is None and isinstance(suggestion, dict):
            text = suggestion.get("text") or suggestion.get("postbackData")
        if not isinstance(sender, str) or not isinstance(text, str):
            return None
        return Inbound(
            connector=self.name,
            channel="RCS",
            from_address=sender,
            to_address=self._agent,
            text=text,
            provider_message_id=message_id,
        )


def _event_key(event: dict[str, Any]) -> str | None:
    """What tells a repeat: an event's eventId, a user message's messageId."""
    event_type, message_id = event.get("eventType"), event.get("messageId")
    if not isinstance(message_id, str):
        return None
    if isinstance(event_type, str):
        return f"event:{event.get('eventId') or event_type + ':' + message_id}"
    return f"message:{message_id}"


def _rejected(attempt_id: str, code: int, message: str) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.REJECTED, error_code=code, error_message=message)


def _json(response: httpx.Response) -> Any:
    try:
        return response.json()
    except ValueError:
        return None


def _retry_after_s(value: str | None) -> float | None:
    """Retry-After in seconds (RFC 9110 delay-seconds; a date is not used)."""
    if value is None or not value.strip().isdigit():
        return None
    return min(float(value.strip()), 3600.0)
