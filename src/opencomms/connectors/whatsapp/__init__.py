"""WhatsApp over Meta's Cloud API: the `whatsapp` connector and its operator settings."""

from opencomms.connectors.whatsapp.config import WhatsAppConfig
from opencomms.connectors.whatsapp.connector import WhatsAppConnector

__all__ = ["WhatsAppConfig", "WhatsAppConnector"]
