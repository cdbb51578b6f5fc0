"""Twilio Programmable Messaging as an upstream: the `twilio` connector and its settings."""

from opencomms.connectors.twilio.config import TwilioConfig
from opencomms.connectors.twilio.connector import TwilioConnector

__all__ = ["TwilioConfig", "TwilioConnector"]
