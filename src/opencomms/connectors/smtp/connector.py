"""The `smtp` connector: email through one SMTP relay (docs/smtp.md).

`submit()` sends each submission over one of `connections` SMTP sessions (pool.py):
MAIL FROM the bounce address with a DSN request (RFC 3461: `RET=HDRS`, `ENVID=` the
attempt id; `NOTIFY=` the `dsn_notify` key per recipient) when the relay offers DSN, RCPT TO
the recipient, then DATA. What it promises the engine:

- a refusal at MAIL, RCPT or DATA is an answer: 5xx REJECTED at once (the fallback
  moves on), 4xx THROTTLED with a backoff that doubles per attempt (errors.py);
- a mail that surely never reached the relay (no connection, dropped before DATA) is
  THROTTLED, never left in doubt;
- one whose DATA was written and whose answer was lost is left out of the results
  (`was_submitted` says None): the relay may have taken it, so it is not sent again.

Reports come later: DSNs to the bounce listener (listener.py), the bounce webhook and
one-click unsubscribes at `/webhooks/{name}` (`webhook()`).
"""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections import OrderedDict
from collections.abc import Sequence
from pathlib import Path

import aiosmtplib

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
from opencomms.connectors.smtp.config import SmtpConfig, host_port
from opencomms.connectors.smtp.dsn import Bounce, bounce_receipts
from opencomms.connectors.smtp.errors import Kind, reply_row
from opencomms.connectors.smtp.listener import BounceListener
from opencomms.connectors.smtp.mime import ContentError, email_message, wire_bytes
from opencomms.connectors.smtp.pool import SmtpPool
from opencomms.connectors.smtp.unsubscribe import Unsubscribe, unsubscribe_url
from opencomms.connectors.smtp.webhook import WebhookHandler
from opencomms.domain.durations import parse_duration_ms

__all__ = ["SmtpConnector"]

log = logging.getLogger(__name__)

NO_CONTENT = 21619  # Twilio's "A text message body or media urls must be specified"
KEPT = 100_000  # attempt ids remembered (`was_submitted`, backoffs); older ones are unknown
FIRST_BACKOFF_MS = 1000
OPERATOR_PAUSE_MS = 60_000  # our credentials refused: nothing is sent for this long
_UNREACHABLE = (aiosmtplib.SMTPConnectError, aiosmtplib.SMTPServerDisconnected, OSError)


class _InDoubt(Exception):
    """DATA was written and its answer lost."""


class SmtpConnector:
    channels: frozenset[str] = frozenset({"EMAIL"})
    unreachable_retry_ms: int = 1000  # the wait of a THROTTLED result when unreachable

    def __init__(self, name: str, config: SmtpConfig, public_url: str = "") -> None:
        self.name = name
        self._config = config
        self._webhook_base = f"{public_url.rstrip('/')}/webhooks/{name}" if public_url else ""
        self._pool = SmtpPool(config, _tls_context(config))
        self._pacer = FairPacer(config.throughput)
        self._max_backoff_ms = parse_duration_ms(config.max_backoff) or 300_000
        self._written: OrderedDict[str, bool | None] = OrderedDict()
        self._backoffs: OrderedDict[str, int] = OrderedDict()
        self._paused_until = 0.0
        self._listener: BounceListener | None = None
        self._webhook = WebhookHandler(name, config.webhook_secret)

    def __repr__(self) -> str:
        return f"SmtpConnector({self.name!r}, host={self._config.host!r})"

    @property
    def bounce_port(self) -> int | None:
        """The bounce listener's port (when it listens on port 0, the one it got)."""
        return self._listener.port if self._listener is not None else None

    # --- the Connector interface ------------------------------------------------------

    async def start(self, receipts: ReceiptHandler, inbound: InboundHandler) -> None:
        self._webhook.start(receipts, inbound)
        if self._config.bounce_listen:
            host, port = host_port(self._config.bounce_listen)
            keep = Path(self._config.kept_mail_dir or f"smtp-{self.name}-mail")
            self._listener = BounceListener(
                host, port, self._store_bounces, keep, self._config.bounce_address
            )
            await self._listener.start()

    async def submit(
        self, submissions: Sequence[Submission], answered: AnswerHandler | None = None
    ) -> list[SubmitResult]:
        return await submit_each(submissions, self._submit_one, answered)

    async def was_submitted(self, attempt_ids: Sequence[str]) -> dict[str, bool | None]:
        """True: the relay took it; False: it never reached the relay; None: in doubt,
        or unknown to this process (a relay cannot be asked about a mail by our id)."""
        return {attempt_id: self._written.get(attempt_id) for attempt_id in attempt_ids}

    async def close(self) -> None:
        if self._listener is not None:
            await self._listener.close()
            self._listener = None
        await self._pool.close()

    async def webhook(self, request: WebhookRequest) -> WebhookAnswer:
        """Bounces reported over HTTP, and one-click unsubscribes (webhook.py)."""
        return await self._webhook.answer(request)

    # --- submitting -------------------------------------------------------------------

    async def _submit_one(self, submission: Submission) -> SubmitResult | None:
        attempt_id = submission.attempt_id
        try:
            mail = wire_bytes(email_message(submission, self._unsubscribe_url(submission)))
        except ContentError as error:
            self._remember(attempt_id, False)
            return _rejected(attempt_id, NO_CONTENT, f"SMTP: {error}")
        await self._pacer.turn(submission.account_sid, submission.operation_id)
        if (wait_ms := self._pause_left_ms()) > 0:
            self._remember(attempt_id, False)
            return _throttled(attempt_id, wait_ms)
        self._remember(attempt_id, None)
        try:
            await self._send(submission, mail)
        except aiosmtplib.SMTPResponseException as refusal:
            self._remember(attempt_id, False)
            return self._refused(attempt_id, refusal.code, refusal.message)
        except _InDoubt as error:
            log.warning("smtp %s: the answer to attempt %s's DATA was lost (%s); in doubt, "
                        "it is not sent again", self.name, attempt_id, error)  # fmt: skip
            return None
        except (*_UNREACHABLE, aiosmtplib.SMTPException) as error:
            self._remember(attempt_id, False)
            log.warning("smtp %s: relay unreachable: %r", self.name, error)
            self._pause(self.unreachable_retry_ms)
            return _throttled(attempt_id, self.unreachable_retry_ms)
        self._remember(attempt_id, True)
        self._backoffs.pop(attempt_id, None)
        return SubmitResult(attempt_id, SubmitOutcome.ACCEPTED)

    async def _send(self, submission: Submission, mail: bytes) -> None:
        """MAIL, RCPT, DATA on a session of the pool; a reused session the relay closed
        meanwhile is connected again once. A refusal raises SMTPResponseException."""
        for tries_left in (1, 0):
            async with self._pool.session() as (client, reused):
                try:
                    await self._envelope(client, submission)
                except aiosmtplib.SMTPServerDisconnected:
                    if reused and tries_left:
                        continue
                    raise
                try:
                    await client.data(mail)
                except (aiosmtplib.SMTPServerDisconnected, TimeoutError, OSError) as error:
                    client.close()  # its state unknown: the pool connects it again
                    raise _InDoubt(repr(error)) from None
                return

    async def _envelope(self, client: aiosmtplib.SMTP, submission: Submission) -> None:
        sender = self._config.bounce_address or submission.from_address
        if client.last_ehlo_response is None:  # aiosmtplib says EHLO only with MAIL
            await client.ehlo()
        dsn = client.supports_extension("dsn")
        mail_options = ["RET=HDRS", f"ENVID={submission.attempt_id}"] if dsn else []
        rcpt_options = [f"NOTIFY={self._config.dsn_notify}"] if dsn else []
        try:
            await client.mail(sender, options=mail_options)
            await client.rcpt(submission.to_address, options=rcpt_options)
        except aiosmtplib.SMTPResponseException:
            await _reset(client)
            raise

    def _refused(self, attempt_id: str, code: int, text: str) -> SubmitResult:
        row = reply_row(code, text)
        message = f"SMTP {code} {' '.join(text.split())}"
        if row.kind is Kind.REFUSED:
            return _rejected(attempt_id, row.twilio_code, message)
        if row.kind is Kind.OPERATOR:
            log.error("smtp %s: the relay refuses our credentials (%s); nothing is sent "
                      "until they are fixed", self.name, message)  # fmt: skip
            self._pause(OPERATOR_PAUSE_MS)
            return _throttled(attempt_id, OPERATOR_PAUSE_MS)
        tries = self._backoffs.get(attempt_id, 0)
        self._backoffs[attempt_id] = tries + 1
        while len(self._backoffs) > KEPT:
            self._backoffs.popitem(last=False)
        return _throttled(attempt_id, min(self._max_backoff_ms, FIRST_BACKOFF_MS * 2**tries))

    def _unsubscribe_url(self, submission: Submission) -> str | None:
        config = self._config
        if not (config.list_unsubscribe and config.webhook_secret and self._webhook_base):
            return None
        what = Unsubscribe(submission.attempt_id, submission.from_address, submission.to_address)
        return unsubscribe_url(self._webhook_base, config.webhook_secret, what)

    async def _store_bounces(self, bounces: list[Bounce]) -> None:
        await self._webhook.store(bounce_receipts(bounces))

    def _pause(self, ms: int) -> None:
        until = asyncio.get_running_loop().time() + ms / 1000
        self._paused_until = max(self._paused_until, until)

    def _pause_left_ms(self) -> int:
        return max(0, round((self._paused_until - asyncio.get_running_loop().time()) * 1000))

    def _remember(self, attempt_id: str, sent: bool | None) -> None:
        self._written[attempt_id] = sent
        self._written.move_to_end(attempt_id)
        while len(self._written) > KEPT:
            self._written.popitem(last=False)


async def _reset(client: aiosmtplib.SMTP) -> None:
    """RSET after a refusal, so that the session takes the next mail; a session that
    cannot is closed (the pool connects it again)."""
    try:
        await client.rset()
    except (aiosmtplib.SMTPException, OSError):
        client.close()


def _tls_context(config: SmtpConfig) -> ssl.SSLContext | None:
    if not config.tls_ca_file:
        return None
    context = ssl.create_default_context()
    context.load_verify_locations(cafile=config.tls_ca_file)
    return context


def _rejected(attempt_id: str, code: int, message: str) -> SubmitResult:
    return SubmitResult(
        attempt_id, SubmitOutcome.REJECTED, error_code=code, error_message=message[:500]
    )


def _throttled(attempt_id: str, wait_ms: int) -> SubmitResult:
    return SubmitResult(attempt_id, SubmitOutcome.THROTTLED, retry_after_ms=wait_ms)
