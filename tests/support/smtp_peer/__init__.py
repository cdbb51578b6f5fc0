"""A real SMTP relay on 127.0.0.1 (aiosmtpd) for the smtp connector's tests: see peer.py."""

from tests.support.smtp_peer.certs import TestCertificate, make_certificate
from tests.support.smtp_peer.dsn import DsnReport, delivery_report
from tests.support.smtp_peer.peer import Bounce, Received, SmtpPeer

__all__ = [
    "Bounce",
    "DsnReport",
    "Received",
    "SmtpPeer",
    "TestCertificate",
    "delivery_report",
    "make_certificate",
]
