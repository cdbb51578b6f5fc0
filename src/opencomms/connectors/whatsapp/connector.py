"""The `whatsapp` connector: one WhatsApp Business number on Meta's Cloud API
(docs/whatsapp.md).

`submit()` posts each submission to `{base_url}/{phone_number_id}/messages`, at most
`throughput` a second (fairly between accounts and operations, connectors/pacing.py)
and `connections` at once, and reports each answer as it comes. What it promises the
engine:

- a send that surely never reached Meta (no connection, or a refusal) is never left in
  doubt: it comes back REJECTED or THROTTLED (errors.py says which);
- one whose request was written and whose answer was lost (a timeout, a dropped
  connection) is left out of the results: Meta may have taken it, and the Cloud API
  cannot be asked by our id, so it is never sent again; `was_submitted` answers None
  for it, and the engine takes it as SENT. Its status webhooks still find it, by the
  attempt id in `biz_opaque_callback_data`; without one, its receipt wait settles it;
- after a throughput refusal (130429, 429, 5xx, a token refused) the connector sends
  nothing until the pause is over, and what comes meanwhile is THROTTLED at once.

`webhook()` answers Meta's subscription handshake and its signed notifications, and
answers 200 only once every report in one is stored.
"""

from __future__ import annotations

import asyncio
import logging
from collections import OrderedDict
from collections.abc import Sequence

import httpx
import msgspec

from opencomms.connectors.base import (
    AnswerHandler,
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
from opencomms.connectors.whatsapp.config import WhatsAppConfig
from opencomms.connectors.whatsapp.errors import PAIR_RATE_LIMIT, Kind, graph_error
from opencomms.connectors.whatsapp.messages import ContentError, cloud_message
from opencomms.connectors.whatsapp.webhooks import (
    Reports,
    decode_notification,
    handshake_challenge,
    reports_of,
    signature_matches,
)
from opencomms.domain.durations import parse_duration_ms

__all__ = ["WhatsAppConnector"]

log = logging.getLogger(__name__)

# A connection idle this long is not used again. A server closes idle connections after
# its own timeout (uvicorn: 5 s, httpx's default expiry too); a send written on one just
# as the server closes it gets no answer and is left in doubt, never sent again (the
# Message then waits out its fallback timeout): stay well under the server's timeout.
IDLE_CONNECTION_S = 2.0

INVALID_CONTENT = 63021  # Twilio's "Channel invalid content error"
KEPT_ANSWERS = 100_000  # attempt ids `was_submitted` remembers; older ones are unknown
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class WhatsAppConnector:
    channels: frozenset[str] = frozenset({"WHATSAPP"})
    # ms a THROTTLED result asks to wait when the peer died before answering
    unreachable_retry_ms: int = 1000

    def __init__(self, name: str, config: WhatsAppConfig) -> None:
        self.name = name
        self._config = config
        self._url = f"{config.base_url.rstrip('/')}/{config.phone_number_id}/messages"
        self._pacer = FairPacer(config.throughput)
        self._slots = asyncio.Semaphore(config.connections)
        self._client: httpx.AsyncClient | None = None
        # attempt id -> False: never reached Meta; None: in doubt; True: Meta took it
        self._written: OrderedDict[str, bool | None] = OrderedDict()
        self._paused_until = 0.0  # loop time before which nothing is sent
        self._receipts: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None

    def __repr__(self) -> str:
        return f"WhatsAppConnector({self.name!r}, phone_number_id={self._config.phone_number_id!r})"

    # --- the Connector interface ------------------------------------------------------

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._receipts = receipts
        self._inbound = inbound
        seconds = (parse_duration_ms(self._config.request_timeout) or 30_000) / 1000
        self._client = httpx.AsyncClient(
            timeout=httpx.Timeout(seconds, pool=None),
            limits=httpx.Limits(
                max_connections=self._config.connections,
                max_keepalive_connections=self._config.connections,
                keepalive_expiry=IDLE_CONNECTION_S,
            ),
            trust_env=False,
        )

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        return await submit_each(submissions, self._submit_one, answered)

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """True: Meta took it (its answer, or a status webhook naming it); False: this
        process never got it to Meta; None: in doubt, or unknown to this process (after
        a restart): the Cloud API cannot be asked by our id, so the engine must wait
        for its status webhook or its receipt wait rather than send it again."""
        return {attempt_id: self._written.get(attempt_id) for attempt_id in attempt_ids}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- submitting -------------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult | None:
        attempt_id = submission.attempt_id
        try:
            body = msgspec.json.encode(cloud_message(submission))
        except ContentError as error:
            self._remember(attempt_id, False)
            return _rejected(attempt_id, INVALID_CONTENT, f"WhatsApp: {error}")
        await self._pacer.turn(submission.account_sid, submission.operation_id)
        async with self._slots:
            if (wait_ms := self._pause_left_ms()) > 0:
                self._remember(attempt_id, False)
                return _throttled(attempt_id, wait_ms)
            self._remember(attempt_id, None)
            try:
                response = await self._post(body)
            except _NEVER_SENT as error:
                self._remember(attempt_id, False)
                log.warning("whatsapp %s: Graph API unreachable: %r", self.name, error)
                self._pause(self.unreachable_retry_ms)
                return _throttled(attempt_id, self.unreachable_retry_ms)
            except httpx.HTTPError as error:
                log.warning(
                    "whatsapp %s: the answer to attempt %s was lost (%r); in doubt, "
                    "it is not sent again",
                    self.name,
                    attempt_id,
                    error,
                )
                return None
        return self._answer(attempt_id, response)

    async def _post(self, body: bytes) -> httpx.Response:
        if self._client is None:
            raise httpx.ConnectError("the whatsapp connector is not started")
        headers = {
            "Authorization": f"Bearer {self._config.access_token}",
            "Content-Type": "application/json",
        }
        return await self._client.post(self._url, content=body, headers=headers)

    def _answer(self, attempt_id: str, response: httpx.Response) -> SubmitResult:
        if response.is_success:
            self._remember(attempt_id, True)
            return SubmitResult(attempt_id, SubmitOutcome.ACCEPTED, _wamid(response))
        self._remember(attempt_id, False)
        code, text = _graph_error_of(response)
        row = graph_error(code, response.status_code)
        message = f"WhatsApp error {code if code is not None else response.status_code}: {text}"
        if row.kind is Kind.REFUSED:
            return _rejected(attempt_id, row.twilio_code, message)
        wait_ms = max(row.retry_after_ms, _retry_after_ms(response))
        if row.kind is Kind.OPERATOR:
            log.error(
                "whatsapp %s: the Graph API refuses our credentials (%s); nothing is sent "
                "until the access token is fixed",
                self.name,
                message,
            )
        if code != PAIR_RATE_LIMIT:  # the pair rate is one recipient's; the rest is the number's
            self._pause(wait_ms)
        return _throttled(attempt_id, wait_ms)

    def _pause(self, ms: int) -> None:
        until = asyncio.get_running_loop().time() + ms / 1000
        self._paused_until = max(self._paused_until, until)

    def _pause_left_ms(self) -> int:
        return max(0, round((self._paused_until - asyncio.get_running_loop().time()) * 1000))

    def _remember(self, attempt_id: str, sent: bool | None) -> None:
        self._written[attempt_id] = sent
        self._written.move_to_end(attempt_id)
        while len(self._written) > KEPT_ANSWERS:
            self._written.popitem(last=False)

    # --- receiving --------------------------------------------------------------------

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        """GET: the subscription handshake. POST: a signed notification, answered 200
        once each of its statuses and messages is stored; 401/403 when the signature
        does not verify, 400 when the body is not a notification (nothing changed)."""
        if request.method == "GET":
            challenge = handshake_challenge(request.query, self._config.verify_token)
            if challenge is None:
                return WebhookAnswer(403, b"verify token mismatch")
            return WebhookAnswer(200, challenge.encode())
        if request.method != "POST":
            return WebhookAnswer(405)
        signature = request.headers.get("x-hub-signature-256")
        if not signature:
            return WebhookAnswer(401, b"X-Hub-Signature-256 missing")
        if not signature_matches(self._config.app_secret, request.body, signature):
            return WebhookAnswer(403, b"X-Hub-Signature-256 does not match")
        try:
            notification = decode_notification(request.body)
        except (msgspec.DecodeError, msgspec.ValidationError) as error:
            return WebhookAnswer(400, f"not a notification: {error}".encode())
        return await self._store(reports_of(notification, self.name, self._config.phone_number_id))

    async def _store(self, reports: Reports) -> WebhookAnswer:
        if self._receipts is None or self._inbound is None:
            return WebhookAnswer(503, b"not started")
        if reports.other_numbers:
            log.warning(
                "whatsapp %s: a notification about phone number ids %s, not %s: skipped "
                "(give each number its own callback URL)",
                self.name,
                sorted(set(reports.other_numbers)),
                self._config.phone_number_id,
            )
        for receipt in reports.receipts:
            if receipt.attempt_id is not None:
                self._remember(receipt.attempt_id, True)
        stored = [self._receipts(r) for r in reports.receipts]
        stored += [self._inbound(m) for m in reports.inbound]
        await asyncio.gather(*stored)
        return WebhookAnswer(200)


def _rejected(attempt_id: str, code: int, message: str) -> SubmitResult:
    return SubmitResult(
        attempt_id, SubmitOutcome.REJECTED, error_code=code, error_message=message[:500]
    )


def _throttled(attempt_id: str, wait_ms: int) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=wait_ms)


class _Sent(msgspec.Struct):
    id: str


class _SendAnswer(msgspec.Struct):
    messages: list[_Sent]


def _wamid(response: httpx.Response) -> str | None:
    """`messages[0].id` of a send's answer; None when Meta's 200 does not carry one (the
    attempt's statuses then find it by our id)."""
    try:
        messages = msgspec.json.decode(response.content, type=_SendAnswer).messages
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None
    return messages[0].id if messages else None


class _ErrorData(msgspec.Struct):
    details: str = ""


class _Error(msgspec.Struct):
    code: int | None = None
    message: str = ""
    error_data: _ErrorData | None = None


class _ErrorAnswer(msgspec.Struct):
    error: _Error


def _graph_error_of(response: httpx.Response) -> tuple[int | None, str]:
    """The Graph error code of a refusal and its text (message, then details)."""
    try:
        error = msgspec.json.decode(response.content, type=_ErrorAnswer).error
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, f"HTTP {response.status_code} {response.reason_phrase}".strip()
    text = error.message or "no message"
    if error.error_data is not None and error.error_data.details:
        text += f" ({error.error_data.details})"
    return error.code, text


def _retry_after_ms(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    return int(value) * 1000 if value.isdigit() else 0
