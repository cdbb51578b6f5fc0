"""The `twilio` connector: SMS, MMS and WhatsApp through Twilio's Programmable Messaging
API, one account (docs/twilio.md).

`submit()` posts each submission to `{base_url}/2010-04-01/Accounts/{AccountSid}/
Messages.json` (messages.py builds the form), at most `throughput` a second (fairly
between accounts and operations, connectors/pacing.py) and `connections` at once, and
reports each answer as it comes. What it promises the engine:

- a send that surely never reached Twilio (no connection, or a refusal) is never left
  in doubt: it comes back REJECTED or THROTTLED (errors.py says which);
- one whose request was written and whose answer was lost (a timeout, a dropped
  connection) is left out of the results: Twilio may have taken it, has no idempotency
  key, and cannot be asked by our id, so it is never sent again; `was_submitted`
  answers None for it and the engine takes it as SENT. Its status callbacks still find
  it, by the attempt id in the StatusCallback URL; without any, its fallback timeout or
  receipt wait settles it;
- after a throughput refusal (20429, 429, 5xx, credentials refused) the connector sends
  nothing until the pause is over, and what comes meanwhile is THROTTLED at once; a
  full queue of one From number (21611) holds back that attempt only.

`webhook()` takes Twilio's signed callbacks, and answers 200 only once every report in
one is stored.
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
from opencomms.connectors.twilio.callbacks import (
    Reports,
    parse_form,
    reports_of,
    signature_matches,
)
from opencomms.connectors.twilio.config import TwilioConfig
from opencomms.connectors.twilio.errors import QUEUE_FULL, Kind, twilio_error
from opencomms.connectors.twilio.messages import ContentError, callback_url, message_form
from opencomms.domain.durations import parse_duration_ms

__all__ = ["TwilioConnector"]

log = logging.getLogger(__name__)

# A connection idle this long is not used again (a send written on a connection the
# server is closing gets no answer and is left in doubt): stay under servers' timeouts.
IDLE_CONNECTION_S = 2.0
KEPT_ANSWERS = 100_000  # attempt ids `was_submitted` remembers; older ones are unknown
# what Twilio expects from an incoming-message webhook: TwiML that sends no reply
EMPTY_TWIML = b'<?xml version="1.0" encoding="UTF-8"?><Response></Response>'
_NEVER_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)


class TwilioConnector:
    channels: frozenset[str] = frozenset({"SMS", "WHATSAPP"})
    # ms a THROTTLED result asks to wait when Twilio could not be reached
    unreachable_retry_ms: int = 1000

    def __init__(self, name: str, config: TwilioConfig, public_url: str) -> None:
        """`public_url`: `[server] public_url`, where Twilio reaches this server."""
        self.name = name
        self._config = config
        base = config.base_url.rstrip("/")
        self._url = f"{base}/2010-04-01/Accounts/{config.account_sid}/Messages.json"
        self._webhook_url = f"{public_url.rstrip('/')}/webhooks/{name}"
        self._pacer = FairPacer(config.throughput)
        self._slots = asyncio.Semaphore(config.connections)
        self._client: httpx.AsyncClient | None = None
        # attempt id -> False: never reached Twilio; None: in doubt; True: Twilio took it
        self._written: OrderedDict[str, bool | None] = OrderedDict()
        self._paused_until = 0.0  # loop time before which nothing is sent
        self._receipts: ReceiptHandler | None = None
        self._inbound: InboundHandler | None = None

    def __repr__(self) -> str:
        return f"TwilioConnector({self.name!r}, account_sid={self._config.account_sid!r})"

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
            auth=httpx.BasicAuth(*self._config.credentials),
            trust_env=False,
        )

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        return await submit_each(submissions, self._submit_one, answered)

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """True: Twilio took it (its answer, or a callback naming it); False: this process
        never got it to Twilio; None: in doubt, or unknown to this process (after a
        restart): Twilio cannot be asked by our id, so the engine must wait for a status
        callback or the fallback timeout rather than send it again."""
        return {attempt_id: self._written.get(attempt_id) for attempt_id in attempt_ids}

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
            self._client = None

    # --- submitting -------------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult | None:
        attempt_id = submission.attempt_id
        status_callback = callback_url(self._webhook_url, attempt_id)
        try:
            form = message_form(submission, self._config.messaging_service_sid, status_callback)
        except ContentError as error:
            self._remember(attempt_id, False)
            return _rejected(attempt_id, error.code, f"Twilio: {error}")
        await self._pacer.turn(submission.account_sid, submission.operation_id)
        async with self._slots:
            if (wait_ms := self._pause_left_ms()) > 0:
                self._remember(attempt_id, False)
                return _throttled(attempt_id, wait_ms)
            self._remember(attempt_id, None)
            try:
                response = await self._post(form)
            except _NEVER_SENT as error:
                self._remember(attempt_id, False)
                log.warning("twilio %s: the API is unreachable: %r", self.name, error)
                self._pause(self.unreachable_retry_ms)
                return _throttled(attempt_id, self.unreachable_retry_ms)
            except httpx.HTTPError as error:
                log.warning(
                    "twilio %s: the answer to attempt %s was lost (%r); in doubt, "
                    "it is not sent again",
                    self.name,
                    attempt_id,
                    error,
                )
                return None
        return self._answer(attempt_id, response)

    async def _post(self, form: list[tuple[str, str]]) -> httpx.Response:
        if self._client is None:
            raise httpx.ConnectError("the twilio connector is not started")
        return await self._client.post(self._url, data=_multi(form))

    def _answer(self, attempt_id: str, response: httpx.Response) -> SubmitResult:
        if response.is_success:
            self._remember(attempt_id, True)
            return SubmitResult(attempt_id, SubmitOutcome.ACCEPTED, _sid(response))
        self._remember(attempt_id, False)
        code, text = _error_of(response)
        row = twilio_error(code, response.status_code)
        shown = code if code is not None else response.status_code
        message = f"Twilio error {shown}: {text or row.title}"
        if row.kind is Kind.REFUSED:
            return _rejected(attempt_id, code or 30008, message)
        wait_ms = max(row.retry_after_ms, _retry_after_ms(response))
        if row.kind is Kind.OPERATOR:
            log.error(
                "twilio %s: Twilio refuses to send for this account (%s); nothing is "
                "sent until the operator fixes it",
                self.name,
                message,
            )
        if code != QUEUE_FULL:  # one number's queue; the rest is the account's
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
        """A signed callback, answered 200 once its status or message is stored; 401/403
        when the signature is missing or does not verify, 400 when the body is not a
        form, 405 for anything but POST (nothing changed)."""
        if request.method != "POST":
            return WebhookAnswer(405)
        header = request.headers.get("x-twilio-signature")
        if not header:
            return WebhookAnswer(401, b"X-Twilio-Signature missing")
        try:
            form = parse_form(request.body)
        except (UnicodeDecodeError, ValueError) as error:
            return WebhookAnswer(400, f"not a form: {error}".encode())
        if not signature_matches(self._config.auth_token, request.url, form, header):
            return WebhookAnswer(403, b"X-Twilio-Signature does not match")
        return await self._store(reports_of(form, request.query, self.name))

    async def _store(self, reports: Reports) -> WebhookAnswer:
        if self._receipts is None or self._inbound is None:
            return WebhookAnswer(503, b"not started")
        for receipt in reports.receipts:
            if receipt.attempt_id is not None:
                self._remember(receipt.attempt_id, True)
        stored = [self._receipts(r) for r in reports.receipts]
        stored += [self._inbound(m) for m in reports.inbound]
        await asyncio.gather(*stored)
        if reports.inbound:
            return WebhookAnswer(200, EMPTY_TWIML, "text/xml")
        return WebhookAnswer(200)


def _multi(form: list[tuple[str, str]]) -> dict[str, str | list[str]]:
    """The form as httpx takes it: a repeated field (MediaUrl) as a list, in order."""
    data: dict[str, str | list[str]] = {}
    for name, value in form:
        if name in data:
            previous = data[name]
            data[name] = [*previous, value] if isinstance(previous, list) else [previous, value]
        else:
            data[name] = value
    return data


def _rejected(attempt_id: str, code: int, message: str) -> SubmitResult:
    return SubmitResult(
        attempt_id, SubmitOutcome.REJECTED, error_code=code, error_message=message[:500]
    )


def _throttled(attempt_id: str, wait_ms: int) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=wait_ms)


class _Message(msgspec.Struct):
    sid: str
    status: str = ""


class _Error(msgspec.Struct):
    code: int | None = None
    message: str = ""


def _sid(response: httpx.Response) -> str | None:
    """The Message's `sid` (SM…/MM…); None when the answer does not carry one."""
    try:
        return msgspec.json.decode(response.content, type=_Message).sid
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None


def _error_of(response: httpx.Response) -> tuple[int | None, str]:
    """Twilio's `{code, message, more_info, status}`; (None, "") when not one."""
    try:
        error = msgspec.json.decode(response.content, type=_Error)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return None, ""
    return error.code, error.message


def _retry_after_ms(response: httpx.Response) -> int:
    value = response.headers.get("retry-after", "")
    return int(value) * 1000 if value.isdigit() else 0
