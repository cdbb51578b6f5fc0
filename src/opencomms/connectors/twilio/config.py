"""A `twilio` connector's operator settings: one Twilio account's Programmable Messaging
API (`[connectors.<name>]`, `type = "twilio"`). The settings loader resolves the `*_env`
keys (`auth_token_env`, `api_key_secret_env`) from the environment and checks the
durations."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from opencomms.settings import ConnectorSettings

__all__ = ["SECRET_FIELDS", "TwilioConfig"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
SECRET_FIELDS = ("auth_token", "api_key_secret")


class TwilioConfig(ConnectorSettings, tag="twilio", kw_only=True):
    # what a sender on this connector may be: an SMS/MMS number (or alphanumeric sender
    # id), or a WhatsApp sender registered with Twilio
    channels: ClassVar[frozenset[str]] = frozenset({"SMS", "WHATSAPP"})
    durations: ClassVar[tuple[str, ...]] = ("request_timeout", "fallback_timeout", "receipt_wait")
    needs_public_url: ClassVar[bool] = True  # the StatusCallback of every send

    account_sid: Annotated[str, msgspec.Meta(pattern=r"^AC[0-9a-fA-F]{32}$")]
    # the account's auth token: it signs every callback (X-Twilio-Signature), and
    # authenticates the sends unless an API key is given
    auth_token: str = ""
    auth_token_env: str = ""
    # an API key (SK…) and its secret: Basic auth of the sends instead of the auth token
    api_key_sid: Annotated[str, msgspec.Meta(pattern=r"^(SK[0-9a-fA-F]{32})?$")] = ""
    api_key_secret: str = ""
    api_key_secret_env: str = ""
    # send through this Messaging Service (MG…) instead of the sender's number as From
    messaging_service_sid: Annotated[str, msgspec.Meta(pattern=r"^(MG[0-9a-fA-F]{32})?$")] = ""
    base_url: str = "https://api.twilio.com"  # a proxy's or a test peer's URL instead
    throughput: Annotated[float, msgspec.Meta(ge=0)] = 0  # messages a second; 0: no cap
    # HTTP connections to Twilio at most (and sends in flight): Twilio limits an
    # account's concurrent REST requests (20429 beyond)
    connections: Positive = 50
    request_timeout: str = "30s"  # one send's request: connect, write, read
    fallback_timeout: str = "60s"
    receipt_wait: str = "72h"

    def __post_init__(self) -> None:
        if not self.auth_token and not self.auth_token_env:
            raise ValueError("give auth_token_env (or auth_token): it verifies callbacks")
        has_secret = bool(self.api_key_secret or self.api_key_secret_env)
        if bool(self.api_key_sid) != has_secret:
            raise ValueError("an API key is api_key_sid with api_key_secret_env, or neither")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")

    @property
    def credentials(self) -> tuple[str, str]:
        """Basic auth of a send: the API key when there is one, else the account."""
        if self.api_key_sid:
            return self.api_key_sid, self.api_key_secret
        return self.account_sid, self.auth_token

    def __repr__(self) -> str:
        """Every field but the secrets, so that logging the settings leaks none."""
        shown = ", ".join(
            f"{name}={'***' if name in SECRET_FIELDS else repr(getattr(self, name))}"
            for name in self.__struct_fields__
        )
        return f"TwilioConfig({shown})"
