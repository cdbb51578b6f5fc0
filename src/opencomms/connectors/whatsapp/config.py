"""A `whatsapp` connector's operator settings: one WhatsApp Business phone number on the
Cloud API (`[connectors.<name>]`, `type = "whatsapp"`). The settings loader resolves the
`*_env` keys (`access_token_env`, `app_secret_env`, `verify_token_env`) from the
environment and checks the durations."""

from __future__ import annotations

from typing import Annotated, ClassVar

import msgspec

from opencomms.settings import ConnectorSettings

__all__ = ["SECRET_FIELDS", "WhatsAppConfig"]

Positive = Annotated[int, msgspec.Meta(ge=1)]
SECRET_FIELDS = ("access_token", "app_secret", "verify_token")


class WhatsAppConfig(ConnectorSettings, tag="whatsapp", kw_only=True):
    # what a sender on this connector may be: its phone number, on WhatsApp
    channels: ClassVar[frozenset[str]] = frozenset({"WHATSAPP"})
    durations: ClassVar[tuple[str, ...]] = ("request_timeout", "fallback_timeout", "receipt_wait")

    phone_number_id: Annotated[str, msgspec.Meta(pattern=r"^[0-9]{1,32}$")]
    access_token: str = ""  # or, better, `access_token_env`: the variable that holds it
    access_token_env: str = ""
    app_secret: str = ""  # the app's secret: X-Hub-Signature-256 of every webhook POST
    app_secret_env: str = ""
    verify_token: str = ""  # the webhook subscription's verify token (GET hub.challenge)
    verify_token_env: str = ""
    # the Graph API with its version; a proxy's or a test peer's URL instead
    base_url: str = "https://graph.facebook.com/v21.0"
    throughput: Annotated[float, msgspec.Meta(ge=0)] = 80  # messages a second; 0: no cap
    # HTTP connections to the Graph API, at most (and sends in flight): throughput x latency
    connections: Positive = 80
    request_timeout: str = "30s"  # one send's request: connect, write, read
    fallback_timeout: str = "60s"
    receipt_wait: str = "72h"

    def __post_init__(self) -> None:
        for name in ("access_token", "app_secret"):
            if not getattr(self, name) and not getattr(self, f"{name}_env"):
                raise ValueError(f"give {name}_env (or {name})")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError("base_url must be an http(s) URL")

    def __repr__(self) -> str:
        """Every field but the secrets, so that logging the settings leaks none."""
        shown = ", ".join(
            f"{name}={'***' if name in SECRET_FIELDS else repr(getattr(self, name))}"
            for name in self.__struct_fields__
        )
        return f"WhatsAppConfig({shown})"
