"""An `rbm` connector's operator settings: one RBM agent (`[connectors.<name>]`,
`type = "rbm"`). The settings loader resolves the `*_env` secrets and checks the
durations; the service-account key is read when the connector is built."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

import msgspec

from opencomms.settings import ConnectorSettings

__all__ = ["DEFAULT_BASE_URL", "RbmConfig"]

DEFAULT_BASE_URL = "https://rcsbusinessmessaging.googleapis.com"
Positive = Annotated[int, msgspec.Meta(ge=1, le=10_000)]
_SECRET_FIELDS = ("client_token", "service_account_json")


class RbmConfig(ConnectorSettings, tag="rbm", kw_only=True):
    # what a sender on this connector may be: an RCS agent (its address the agent id)
    channels: ClassVar[frozenset[str]] = frozenset({"RCS"})
    durations: ClassVar[tuple[str, ...]] = (
        "request_timeout",
        "receipt_wait",
        "fallback_timeout",
    )

    agent_id: Annotated[str, msgspec.Meta(min_length=1, max_length=256)]
    # the service account's JSON key: a file, or (better kept out of files) a variable
    service_account_file: str = ""
    service_account_json: str = ""
    service_account_json_env: str = ""
    # the webhook's client token: the registration handshake and X-Goog-Signature's key
    client_token: str = ""
    client_token_env: str = ""
    base_url: str = DEFAULT_BASE_URL
    throughput: Annotated[float, msgspec.Meta(ge=0)] = 0  # requests/s; 0: no cap
    concurrency: Positive = 32  # requests in flight at once
    request_timeout: str = "15s"  # one HTTP request, connect to last byte
    receipt_wait: str = "72h"  # of the senders on this connector
    fallback_timeout: str = "60s"

    def __post_init__(self) -> None:
        keys = bool(self.service_account_file) + bool(
            self.service_account_json or self.service_account_json_env
        )
        if keys != 1:
            raise ValueError(
                "give one of service_account_file, service_account_json_env "
                "(or service_account_json)"
            )
        if not (self.client_token or self.client_token_env):
            raise ValueError("client_token_env is required (the webhook's client token)")
        if not self.base_url.startswith(("https://", "http://")):
            raise ValueError(f"base_url must be an http(s) URL, not {self.base_url!r}")

    def service_account(self) -> dict[str, Any]:
        """The service account's key, parsed; ValueError when it cannot be used (the
        message names the file, never the key's content)."""
        if self.service_account_file:
            where = self.service_account_file
            try:
                text = Path(where).read_text()
            except OSError as error:
                raise ValueError(f"rbm: cannot read {where}: {error.strerror}") from None
        else:
            where, text = "service_account_json", self.service_account_json
        try:
            info = msgspec.json.decode(text)
        except msgspec.DecodeError:
            raise ValueError(f"rbm: {where} is not a JSON service-account key") from None
        wanted = ("client_email", "private_key", "token_uri")
        if not isinstance(info, dict) or not all(isinstance(info.get(k), str) for k in wanted):
            raise ValueError(f"rbm: {where} lacks client_email, private_key or token_uri")
        return info

    def __repr__(self) -> str:
        """Every field but the secrets, so that logging the settings leaks none."""
        shown = ", ".join(
            f"{name}={'***' if name in _SECRET_FIELDS and value else repr(value)}"
            for name in self.__struct_fields__
            for value in (getattr(self, name),)
        )
        return f"RbmConfig({shown})"
