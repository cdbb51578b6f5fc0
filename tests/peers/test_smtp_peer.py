"""The SMTP test peer (tests/support/smtp_peer) against a plain SMTP client: it takes
mail with its DSN parameters, refuses what it was told to, speaks STARTTLS, implicit
TLS and AUTH, and sends RFC 3464 reports when due by its clock."""

from __future__ import annotations

import asyncio
import ssl
from email import message_from_bytes
from pathlib import Path

import aiosmtplib
import pytest
from aiosmtpd.smtp import SMTP, Envelope, Session

from tests.support.smtp_peer import Bounce, DsnReport, SmtpPeer, delivery_report, make_certificate

MAIL = (
    b"From: a@ours.test\r\nTo: b@x.test\r\nSubject: hi\r\n"
    b"Message-ID: <m1@ours.test>\r\n\r\nHello\r\n"
)


class FakeClock:
    def __init__(self) -> None:
        self.now = 1_700_000_000.0

    def __call__(self) -> float:
        return self.now


class Inbox:
    """A bare bounce listener: every mail it is sent."""

    def __init__(self) -> None:
        self.mails: list[bytes] = []

    async def handle_DATA(self, server: SMTP, session: Session, envelope: Envelope) -> str:
        self.mails.append(envelope.original_content or b"")
        return "250 OK"


async def _inbox() -> tuple[Inbox, asyncio.Server]:
    inbox = Inbox()
    loop = asyncio.get_running_loop()
    server = await loop.create_server(lambda: SMTP(inbox, loop=loop), "127.0.0.1", 0)
    return inbox, server


async def test_takes_mail_with_its_dsn_parameters() -> None:
    peer = await SmtpPeer().start()
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port) as client:
            assert client.supports_extension("dsn")
            assert client.supports_extension("enhancedstatuscodes")
            await client.mail("bounces@ours.test", options=["RET=HDRS", "ENVID=SMabc"])
            await client.rcpt("b@x.test", options=["NOTIFY=FAILURE,DELAY"])
            await client.data(MAIL)
        [mail] = peer.mails
        assert (mail.mail_from, mail.rcpt_to) == ("bounces@ours.test", "b@x.test")
        assert mail.dsn_mail == {"RET": "HDRS", "ENVID": "SMabc"}
        assert mail.dsn_rcpt == {"NOTIFY": "FAILURE,DELAY"}
        assert mail.message["Subject"] == "hi"
    finally:
        await peer.stop()


async def test_refuses_a_bad_notify_and_unknown_parameters() -> None:
    peer = await SmtpPeer().start()
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port) as client:
            await client.mail("bounces@ours.test")
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as bad_notify:
                await client.rcpt("b@x.test", options=["NOTIFY=SOMETIMES"])
            with pytest.raises(aiosmtplib.SMTPRecipientRefused) as unknown:
                await client.rcpt("b@x.test", options=["COLOUR=BLUE"])
        assert (bad_notify.value.code, unknown.value.code) == (501, 555)
        assert peer.mails == []
    finally:
        await peer.stop()


async def test_refuses_at_rcpt_and_at_data_with_the_reply_chosen() -> None:
    peer = await SmtpPeer().start()
    peer.refuse("nobody@x.test", "550 5.1.1 No such user")
    peer.refuse("busy@x.test", "451 4.3.0 Try later", stage="DATA", times=1)
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port) as client:
            with pytest.raises(aiosmtplib.SMTPRecipientsRefused) as rcpt:
                await client.sendmail("s@ours.test", ["nobody@x.test"], MAIL)
            with pytest.raises(aiosmtplib.SMTPDataError) as data:
                await client.sendmail("s@ours.test", ["busy@x.test"], MAIL)
            await client.sendmail("s@ours.test", ["busy@x.test"], MAIL)  # once only
        assert rcpt.value.recipients[0].code == 550
        assert (data.value.code, data.value.message) == (451, "4.3.0 Try later")
        assert [m.rcpt_to for m in peer.mails] == ["busy@x.test"]
    finally:
        await peer.stop()


@pytest.mark.parametrize("security", ["starttls", "tls"])
async def test_tls_and_auth(tmp_path: Path, security: str) -> None:
    certificate = make_certificate(tmp_path)
    peer = SmtpPeer(security=security, certificate=certificate, login=("acme", "s3cret-pw"))  # type: ignore[arg-type]
    await peer.start()
    tls = {"use_tls": security == "tls", "start_tls": security == "starttls"}
    try:
        async with aiosmtplib.SMTP(
            hostname="127.0.0.1", port=peer.port, cert_bundle=str(certificate.ca_file), **tls
        ) as client:
            with pytest.raises(aiosmtplib.SMTPSenderRefused):  # AUTH required first
                await client.mail("s@ours.test")
            with pytest.raises(aiosmtplib.SMTPAuthenticationError):
                await client.login("acme", "wrong-password")
            await client.login("acme", "s3cret-pw")
            await client.sendmail("s@ours.test", ["b@x.test"], MAIL)
        assert peer.logins == ["acme"] and len(peer.mails) == 1
        with pytest.raises((ssl.SSLError, aiosmtplib.SMTPConnectError)):  # trusts no test CA
            async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port, timeout=5, **tls):
                pass
    finally:
        await peer.stop()


async def test_a_dsn_when_its_clock_says_an_hour_passed() -> None:
    clock = FakeClock()
    inbox, listener = await _inbox()
    peer = await SmtpPeer(clock=clock).start()
    peer.report_to = ("127.0.0.1", listener.sockets[0].getsockname()[1])
    peer.bounce("gone@x.test", Bounce("failed", "5.1.1", after_s=3600))
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port) as client:
            await client.sendmail("bounces@ours.test", ["gone@x.test"], MAIL,
                                  mail_options=["ENVID=SM" + "a" * 32])  # fmt: skip
        assert await peer.deliver_due() == [] and inbox.mails == []
        clock.now += 3599
        assert await peer.deliver_due() == []
        clock.now += 1
        assert await peer.deliver_due() == [250]
        [dsn] = inbox.mails
        report = message_from_bytes(dsn)
        assert report.get_content_type() == "multipart/report"
        assert report.get_param("report-type") == "delivery-status"
        fields = next(p for p in report.walk() if p.get_content_type() == "message/delivery-status")
        per_message, per_recipient = fields.get_payload()
        assert per_message["Original-Envelope-Id"] == "SM" + "a" * 32
        assert (per_recipient["Action"], per_recipient["Status"]) == ("failed", "5.1.1")
        assert per_recipient["Final-Recipient"] == "rfc822; gone@x.test"
        assert "Message-ID: <m1@ours.test>" in dsn.decode()
    finally:
        await peer.stop()
        listener.close()


async def test_an_immediate_dsn_only_where_notify_asks_for_it() -> None:
    inbox, listener = await _inbox()
    peer = await SmtpPeer().start()
    peer.report_to = ("127.0.0.1", listener.sockets[0].getsockname()[1])
    peer.bounce("relay@x.test", Bounce("relayed", "2.0.0"))
    try:
        async with aiosmtplib.SMTP(hostname="127.0.0.1", port=peer.port) as client:
            await client.sendmail("b@ours.test", ["relay@x.test"], MAIL,
                                  rcpt_options=["NOTIFY=SUCCESS"])  # fmt: skip
            await client.sendmail("b@ours.test", ["relay@x.test"], MAIL,
                                  rcpt_options=["NOTIFY=NEVER"])  # fmt: skip
            await client.sendmail("b@ours.test", ["other@x.test"], MAIL,
                                  rcpt_options=["NOTIFY=FAILURE"])  # fmt: skip
        await peer.settle()
        assert len(inbox.mails) == 1 and b"Action: relayed" in inbox.mails[0]
    finally:
        await peer.stop()
        listener.close()


def test_a_report_without_envid_has_no_such_field() -> None:
    text = delivery_report(DsnReport("x@y.test"), "b@ours.test", 0).decode()
    assert "Original-Envelope-Id" not in text
    assert "Diagnostic-Code: smtp; 550 5.1.1 <x@y.test>" in text
