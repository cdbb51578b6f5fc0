"""SMS over SMPP 3.4: the `smpp` connector and its operator settings."""

from opencomms.connectors.smpp.config import SmppConfig
from opencomms.connectors.smpp.connector import SmppConnector

__all__ = ["SmppConfig", "SmppConnector"]
