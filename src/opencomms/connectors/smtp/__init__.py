"""Email through an SMTP relay: the `smtp` connector and its operator settings."""

from opencomms.connectors.smtp.config import SmtpConfig
from opencomms.connectors.smtp.connector import SmtpConnector

__all__ = ["SmtpConfig", "SmtpConnector"]
