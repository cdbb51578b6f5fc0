"""opencomms: self-hosted bulk messaging with Twilio's Communications API."""

__version__ = "0.1.0"
