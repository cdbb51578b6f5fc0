"""A real SMTP relay on 127.0.0.1 for tests: aiosmtpd in the test's event loop.

It accepts mail, refuses chosen addresses with a chosen reply at RCPT or at DATA
(4xx or 5xx, every time or a number of times), offers STARTTLS or implicit TLS with a
test certificate, and AUTH PLAIN/LOGIN for one username and password. For chosen
addresses it later sends an RFC 3464 DSN to the bounce listener, as a relay does:
at once, or when its clock passes a due time ("an hour later": the test moves the
clock, `advance`, and calls `deliver_due`, nothing sleeps). It can hold its answers
to DATA (an early report) and lose one (the connection drops after the mail).
"""

from __future__ import annotations

import asyncio
import ssl
import time
import warnings
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from email import message_from_bytes, policy
from email.message import EmailMessage
from typing import Any, Literal, cast

import aiosmtplib
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session

from tests.support.smtp_peer.certs import TestCertificate
from tests.support.smtp_peer.dsn import DsnReport, delivery_report
from tests.support.smtp_peer.server import DsnSmtp

__all__ = ["Bounce", "Received", "SmtpPeer"]

Stage = Literal["RCPT", "DATA"]


@dataclass(frozen=True)
class Received:
    """A mail the peer took: its envelope, its DSN parameters and its bytes."""

    mail_from: str
    rcpt_to: str
    dsn_mail: dict[str, str]
    dsn_rcpt: dict[str, str]
    data: bytes
    arrival: float

    @property
    def message(self) -> EmailMessage:
        return cast(EmailMessage, message_from_bytes(self.data, policy=policy.default))


@dataclass(frozen=True)
class Bounce:
    """What the peer reports on a mail to an address, `after_s` after taking it."""

    action: str = "failed"
    status: str = "5.1.1"
    after_s: float = 0.0


@dataclass
class _Refusal:
    reply: str
    stage: Stage
    times: int | None  # None: every time


@dataclass
class _Due:
    at: float
    report: DsnReport
    bounce_to: str
    arrival: float


@dataclass
class _Options:
    refusals: dict[str, _Refusal] = field(default_factory=dict)
    bounces: dict[str, Bounce] = field(default_factory=dict)
    hold: bool = False
    lose: int = 0  # mails after which the connection is dropped unanswered


class SmtpPeer:
    def __init__(
        self,
        *,
        security: Literal["none", "starttls", "tls"] = "none",
        certificate: TestCertificate | None = None,
        login: tuple[str, str] | None = None,
        dsn: bool = True,
        clock: Callable[[], float] = time.time,
        report_success: bool = True,
    ) -> None:
        if security != "none" and certificate is None:
            raise ValueError("TLS needs a certificate (certs.make_certificate)")
        self.security = security
        self._certificate = certificate
        self._login = login
        self.dsn = dsn
        self.clock = clock
        # a "delivered" DSN for each mail whose NOTIFY asks for SUCCESS, as a final MTA
        self.report_success = report_success
        self.mails: list[Received] = []
        self.refused: list[tuple[str, str]] = []  # (address, reply) of each refusal
        self.logins: list[str] = []
        self.clients: set[tuple[str, int]] = set()  # each client connection (host, port) seen
        self.report_replies: list[int] = []  # the listener's answer to each DSN sent
        self.report_to: tuple[str, int] | None = None  # the bounce listener
        self._options = _Options()
        self._due: list[_Due] = []
        self._server: asyncio.Server | None = None
        self._held = asyncio.Event()
        self._release = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()
        self._sessions: weakref.WeakSet[DsnSmtp] = weakref.WeakSet()
        self.port = 0

    # --- scripting ------------------------------------------------------------------

    def refuse(
        self, address: str, reply: str, stage: Stage = "RCPT", times: int | None = None
    ) -> None:
        """Answer mail to `address` with `reply` (e.g. "550 5.1.1 No such user") at
        `stage`, every time, or the first `times` times."""
        self._options.refusals[address.lower()] = _Refusal(reply, stage, times)

    def bounce(self, address: str, bounce: Bounce | None = None) -> None:
        """Take mail to `address`, then report on it with a DSN (default: failed 5.1.1)."""
        self._options.bounces[address.lower()] = bounce or Bounce()

    def hold(self) -> None:
        self._options.hold = True
        self._release.clear()

    async def held(self) -> None:
        await asyncio.wait_for(self._held.wait(), 10)

    def release(self) -> None:
        self._options.hold = False
        self._release.set()

    def drop_clients(self) -> None:
        """Close every client's connection, as a relay closes idle sessions."""
        for session in list(self._sessions):
            if session.transport is not None:
                session.transport.abort()

    def lose_next(self) -> None:
        """Take the next mail, then drop the connection without answering its DATA."""
        self._options.lose += 1

    # --- running ----------------------------------------------------------------------

    async def start(self) -> SmtpPeer:
        loop = asyncio.get_running_loop()
        tls = self._certificate.server_context() if self._certificate else None
        self._server = await loop.create_server(
            lambda: self._session(
                tls,
                loop,
            ),
            host="127.0.0.1",
            port=0,
            ssl=tls if self.security == "tls" else None,
        )
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    def _session(self, tls: ssl.SSLContext | None, loop: asyncio.AbstractEventLoop) -> DsnSmtp:
        session = _quietly(
            DsnSmtp,
            _Handler(self),
            tls_context=tls if self.security == "starttls" else None,
            require_starttls=self.security == "starttls",
            authenticator=self._authenticate if self._login else None,
            auth_required=self._login is not None,
            auth_require_tls=self.security == "starttls",
            hostname="peer.opencomms.test",
            loop=loop,
        )
        self._sessions.add(session)
        return session

    async def stop(self) -> None:
        self.release()
        await self.settle()
        if self._server is not None:
            self._server.close()
            self._server = None

    async def settle(self) -> None:
        """Return once every DSN due so far was sent."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks))

    def _authenticate(
        self, server: Any, session: Session, envelope: Envelope, mechanism: str, data: Any
    ) -> AuthResult:
        ok = isinstance(data, LoginPassword) and self._login == (
            data.login.decode(),
            data.password.decode(),
        )
        if ok:
            self.logins.append(data.login.decode())
        return AuthResult(success=ok, handled=False)

    # --- reports --------------------------------------------------------------------

    def pending_reports(self) -> int:
        return len(self._due)

    async def deliver_due(self) -> list[int]:
        """Send every DSN whose time has come (by `clock`); the listener's replies."""
        now = self.clock()
        due = [d for d in self._due if d.at <= now]
        self._due = [d for d in self._due if d.at > now]
        return [await self.send_report(d.report, d.bounce_to, d.arrival) for d in due]

    async def send_report(self, report: DsnReport, bounce_to: str, arrival: float) -> int:
        """Send one DSN to the bounce listener, as a relay does; its reply code."""
        assert self.report_to is not None, "report_to: where the bounce listener is"
        host, port = self.report_to
        data = delivery_report(report, bounce_to, arrival)
        try:  # from the null reverse-path, as every DSN (RFC 3464 section 2)
            async with aiosmtplib.SMTP(hostname=host, port=port, timeout=10) as client:
                await client.sendmail("", [bounce_to], data)
        except aiosmtplib.SMTPResponseException as error:
            self.report_replies.append(error.code)
            return error.code
        except aiosmtplib.SMTPRecipientsRefused as error:
            self.report_replies.append(error.recipients[0].code)
            return error.recipients[0].code
        self.report_replies.append(250)
        return 250

    def _took(self, received: Received) -> None:
        self.mails.append(received)
        notify = received.dsn_rcpt.get("NOTIFY", "FAILURE,DELAY").upper()
        bounce = self._options.bounces.get(received.rcpt_to.lower())
        if bounce is None and self.report_success and "SUCCESS" in notify:
            bounce = Bounce("delivered", "2.0.0")
        wanted = "SUCCESS" if bounce and bounce.action != "failed" else "FAILURE"
        if bounce is None or wanted not in notify:
            return
        headers = received.data.split(b"\r\n\r\n", 1)[0].decode("utf-8", "replace")
        diagnostic = "smtp; 250 2.0.0 OK" if wanted == "SUCCESS" else DsnReport.diagnostic
        report = DsnReport(
            received.rcpt_to, bounce.action, bounce.status, diagnostic,
            envelope_id=received.dsn_mail.get("ENVID"), returned_headers=headers,
        )  # fmt: skip
        self._due.append(_Due(received.arrival + bounce.after_s, report, received.mail_from,
                              received.arrival))  # fmt: skip
        if bounce.after_s <= 0:
            task = asyncio.get_running_loop().create_task(self._deliver_soon())
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)

    async def _deliver_soon(self) -> None:
        await asyncio.sleep(0)  # after the DATA answer
        await self.deliver_due()


def _quietly(factory: Callable[..., DsnSmtp], *args: Any, **kwargs: Any) -> DsnSmtp:
    """A session, without aiosmtpd's warning about AUTH without STARTTLS: the peer asks
    for AUTH over implicit TLS (which aiosmtpd does not count) or, by choice, in clear."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        return factory(*args, **kwargs)


class _Handler:
    def __init__(self, peer: SmtpPeer) -> None:
        self._peer = peer

    async def handle_EHLO(
        self, server: DsnSmtp, session: Session, envelope: Envelope, hostname: str,
        responses: list[str],
    ) -> list[str]:  # fmt: skip
        session.host_name = hostname
        self._peer.clients.add(tuple(session.peer))  # type: ignore[arg-type]
        extra = ["250-ENHANCEDSTATUSCODES"] + (["250-DSN"] if self._peer.dsn else [])
        return [*responses[:-1], *extra, responses[-1]]

    async def handle_RCPT(
        self, server: DsnSmtp, session: Session, envelope: Envelope, address: str, options: Any
    ) -> str:
        refusal = self._refusal(address, "RCPT")
        if refusal is not None:
            return refusal
        envelope.rcpt_tos.append(address)
        return "250 2.1.5 OK"

    async def handle_DATA(self, server: DsnSmtp, session: Session, envelope: Envelope) -> str:
        peer, options = self._peer, self._peer._options
        [rcpt] = envelope.rcpt_tos
        refusal = self._refusal(rcpt, "DATA")
        if refusal is not None:
            return refusal
        data = envelope.original_content or b""
        received = Received(str(envelope.mail_from), rcpt, dict(server.dsn_mail),
                            dict(server.dsn_rcpt), data, peer.clock())  # fmt: skip
        if options.lose:
            options.lose -= 1
            peer._took(received)
            assert server.transport is not None
            server.transport.abort()
            return "421 4.4.2 lost"  # never reaches the client: the connection is gone
        if options.hold:
            peer._held.set()
            await peer._release.wait()
        peer._took(received)
        return "250 2.0.0 queued as " + str(len(peer.mails))

    def _refusal(self, address: str, stage: Stage) -> str | None:
        refusal = self._peer._options.refusals.get(address.lower())
        if refusal is None or refusal.stage != stage or refusal.times == 0:
            return None
        if refusal.times is not None:
            refusal.times -= 1
        self._peer.refused.append((address, refusal.reply))
        return refusal.reply
