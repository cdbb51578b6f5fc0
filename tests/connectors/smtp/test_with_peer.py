"""The smtp connector against the SMTP test peer: TLS, AUTH, the pool, DSN parameters,
backoff, an unreachable relay, the bounce listener and its kept mail."""

from __future__ import annotations

import asyncio
import mailbox
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiosmtplib
import msgspec
import pytest

from opencomms.connectors.base import (
    Inbound,
    Receipt,
    Submission,
    SubmitOutcome,
    SubmitResult,
    WebhookRequest,
)
from opencomms.connectors.smtp import SmtpConfig, SmtpConnector
from tests.support.server import free_port
from tests.support.smtp_peer import DsnReport, SmtpPeer, make_certificate

ACCEPTED, REJECTED, THROTTLED = SubmitOutcome


def _submission(n: int = 0, to: str = "ada@example.test") -> Submission:
    return Submission(f"SM{n:032x}", "m", "o", "AC1", "EMAIL", "news@acme.test", to,
                      {"text": f"Hello {n}"})  # fmt: skip


class Heard:
    def __init__(self) -> None:
        self.receipts: list[Receipt] = []
        self.inbound: list[Inbound] = []

    def receipt(self, receipt: Receipt) -> asyncio.Future[None]:
        self.receipts.append(receipt)
        return _done()

    def message(self, message: Inbound) -> asyncio.Future[None]:
        self.inbound.append(message)
        return _done()


def _done() -> asyncio.Future[None]:
    future: asyncio.Future[None] = asyncio.get_running_loop().create_future()
    future.set_result(None)
    return future


@pytest.fixture
async def peer() -> AsyncIterator[SmtpPeer]:
    started = await SmtpPeer(report_success=False).start()
    yield started
    await started.stop()


async def _connector(port: int, heard: Heard | None = None, **settings: Any) -> SmtpConnector:
    settings = {"security": "none", "timeout": "5s", **settings}
    config = SmtpConfig(host="127.0.0.1", port=port, **settings)
    connector = SmtpConnector("mail", config)
    heard = heard or Heard()
    await connector.start(heard.receipt, heard.message)
    return connector


@pytest.mark.parametrize("security", ["tls", "starttls"])
async def test_tls_and_auth(tmp_path: Path, security: str) -> None:
    certificate = make_certificate(tmp_path)
    peer = await SmtpPeer(security=security, certificate=certificate,  # type: ignore[arg-type]
                          login=("acme", "relay-pw-123")).start()  # fmt: skip
    config = SmtpConfig(host="127.0.0.1", port=peer.port, security=security,  # type: ignore[arg-type]
                        username="acme", password="relay-pw-123",
                        tls_ca_file=str(certificate.ca_file))  # fmt: skip
    connector = SmtpConnector("mail", config)
    heard = Heard()
    await connector.start(heard.receipt, heard.message)
    try:
        assert await connector.submit([_submission()]) == [SubmitResult(f"SM{0:032x}", ACCEPTED)]
        assert peer.logins == ["acme"] and len(peer.mails) == 1
    finally:
        await connector.close()
        await peer.stop()


async def test_starttls_required_never_sends_in_clear(peer: SmtpPeer) -> None:
    """A relay (or a man in the middle) that offers no STARTTLS gets nothing."""
    connector = await _connector(peer.port, security="starttls", username="acme",
                                 password="relay-pw-123")  # fmt: skip
    try:
        [result] = await connector.submit([_submission()])
        assert (result.outcome, result.retry_after_ms) == (THROTTLED, 1000)
        assert peer.mails == [] and peer.logins == []
    finally:
        await connector.close()


async def test_a_refused_password_pauses_every_send(peer: SmtpPeer) -> None:
    await peer.stop()
    guarded = await SmtpPeer(login=("acme", "the-right-pw")).start()
    connector = await _connector(guarded.port, username="acme", password="a-wrong-pw")
    try:
        [first] = await connector.submit([_submission(1)])
        [second] = await connector.submit([_submission(2)])
        assert (first.outcome, first.retry_after_ms) == (THROTTLED, 60_000)
        assert second.outcome is THROTTLED and 55_000 < second.retry_after_ms <= 60_000
        assert guarded.mails == [] and len(guarded.clients) == 1  # the second never connected
    finally:
        await connector.close()
        await guarded.stop()


async def test_an_unreachable_relay_is_throttled_never_in_doubt() -> None:
    connector = await _connector(free_port())
    try:
        assert await connector.submit([_submission()]) == [
            SubmitResult(f"SM{0:032x}", THROTTLED, retry_after_ms=1000)
        ]
        assert await connector.was_submitted([f"SM{0:032x}"]) == {f"SM{0:032x}": False}
    finally:
        await connector.close()


async def test_no_dsn_parameters_to_a_relay_without_the_extension() -> None:
    plain = await SmtpPeer(dsn=False).start()
    connector = await _connector(plain.port)
    try:
        [result] = await connector.submit([_submission()])
        assert result.outcome is ACCEPTED
        [mail] = plain.mails
        assert (mail.dsn_mail, mail.dsn_rcpt) == ({}, {})
    finally:
        await connector.close()
        await plain.stop()


async def test_a_4xx_backoff_doubles_then_the_mail_goes(peer: SmtpPeer) -> None:
    peer.refuse("busy@example.test", "451 4.3.0 try later", stage="DATA", times=3)
    connector = await _connector(peer.port, max_backoff="3s")
    busy = _submission(7, "busy@example.test")
    try:
        waits = [(await connector.submit([busy]))[0].retry_after_ms for _ in range(3)]
        assert waits == [1000, 2000, 3000]  # doubled, up to max_backoff
        assert (await connector.submit([busy]))[0].outcome is ACCEPTED
        assert len(peer.mails) == 1
    finally:
        await connector.close()


async def test_the_pool_holds_at_most_its_connections(peer: SmtpPeer) -> None:
    connector = await _connector(peer.port, connections=3)
    try:
        results = await connector.submit([_submission(n) for n in range(40)])
        assert sorted(r.attempt_id for r in results if r.outcome is ACCEPTED) == sorted(
            f"SM{n:032x}" for n in range(40)
        )
        assert sorted(m.rcpt_to for m in peer.mails) == ["ada@example.test"] * 40
        assert len(peer.clients) == 3
    finally:
        await connector.close()


@pytest.mark.parametrize("seen", [False, True], ids=["close not seen yet", "close seen"])
async def test_a_session_the_relay_closed_is_opened_again(peer: SmtpPeer, seen: bool) -> None:
    connector = await _connector(peer.port, connections=1)
    try:
        assert (await connector.submit([_submission(1)]))[0].outcome is ACCEPTED
        peer.drop_clients()
        if seen:
            await asyncio.sleep(0.1)  # the client noticed the close before the next mail
        assert (await connector.submit([_submission(2)]))[0].outcome is ACCEPTED
        assert len(peer.mails) == 2 and len(peer.clients) == 2
    finally:
        await connector.close()


async def test_the_bounce_listener(peer: SmtpPeer, tmp_path: Path) -> None:
    heard = Heard()
    port = free_port()
    connector = await _connector(peer.port, heard, bounce_address="bounces@acme.test",
                                 bounce_listen=f"127.0.0.1:{port}",
                                 kept_mail_dir=str(tmp_path / "kept"))  # fmt: skip
    peer.report_to = ("127.0.0.1", port)
    ours = DsnReport("ada@example.test", "failed", "5.1.1", envelope_id=f"SM{5:032x}")
    try:
        assert await peer.send_report(ours, "bounces@acme.test", 0) == 250
        assert [(r.status, r.attempt_id, r.error_code) for r in heard.receipts] == [
            ("UNDELIVERED", f"SM{5:032x}", 30005)
        ]
        assert await peer.send_report(ours, "someone@acme.test", 0) == 550
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=port) as client:
            await client.sendmail("x@y.test", ["bounces@acme.test"],
                                  b"Subject: Out of office\r\n\r\nBack on Monday\r\n")  # fmt: skip
        [kept] = mailbox.Maildir(tmp_path / "kept").values()
        assert kept["Subject"] == "Out of office" and len(heard.receipts) == 1
    finally:
        await connector.close()


async def test_the_webhook_refuses_what_it_cannot_take(peer: SmtpPeer) -> None:
    secretless = await _connector(peer.port)
    signed = await _connector(peer.port, webhook_secret="hook-secret-77")
    body = b'{"bounces": [{"envelope_id": "SM1", "action": "failed", "colour": "red"}]}'
    from opencomms.connectors.smtp.unsubscribe import body_signature

    request = WebhookRequest("POST", "https://x/webhooks/mail", {},
                             {"x-opencomms-signature": body_signature("hook-secret-77", body)},
                             body)  # fmt: skip
    try:
        assert (await secretless.webhook(request)).status == 404
        answer = await signed.webhook(request)
        assert answer.status == 400 and b"colour" in answer.body
        unsubscribe = msgspec.structs.replace(request, query={"unsubscribe": "garbage"})
        assert (await signed.webhook(unsubscribe)).status == 403
    finally:
        await secretless.close()
        await signed.close()
