"""An `smtp` connector's operator settings: one SMTP relay (`[connectors.<name>]`,
`type = "smtp"`). The settings loader resolves the `*_env` secrets and checks the
durations (docs/smtp.md lists every key)."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from opencomms.settings import ConnectorSettings

__all__ = ["SECRET_FIELDS", "SmtpConfig", "host_port"]

Positive = Annotated[int, msgspec.Meta(ge=1, le=1_000)]
Port = Annotated[int, msgspec.Meta(ge=1, le=65_535)]
SECRET_FIELDS = ("password", "webhook_secret")
_NOTIFY = r"^(NEVER|(SUCCESS|FAILURE|DELAY)(,(SUCCESS|FAILURE|DELAY)){0,2})$"


class SmtpConfig(ConnectorSettings, tag="smtp", kw_only=True):
    # what a sender on this connector may be: an email address
    channels: ClassVar[frozenset[str]] = frozenset({"EMAIL"})
    durations: ClassVar[tuple[str, ...]] = (
        "timeout",
        "fallback_timeout",
        "receipt_wait",
        "max_backoff",
    )

    host: Annotated[str, msgspec.Meta(min_length=1, max_length=253)]
    port: Port = 587
    security: Literal["tls", "starttls", "none"] = "starttls"
    username: str = ""  # no AUTH when empty
    password: str = ""  # or, better, `password_env`
    password_env: str = ""
    connections: Positive = 4  # SMTP sessions kept open to the relay, each one mail at a time
    throughput: Annotated[float, msgspec.Meta(ge=0)] = 0  # mails a second; 0: no cap
    timeout: str = "30s"  # one SMTP command's answer
    helo_name: str = ""  # the name we give in EHLO; empty: this host's FQDN
    tls_ca_file: str = ""  # CA certificates to trust besides the system's (a private relay)
    # the envelope sender (MAIL FROM): where DSNs come back; empty: the sender's address
    bounce_address: str = ""
    # host:port of the SMTP listener that takes those DSNs; empty: none
    bounce_listen: str = ""
    # where mail to the bounce listener that is no delivery report of ours is kept (a
    # Maildir); empty: `smtp-<connector name>-mail` in the working directory
    kept_mail_dir: str = ""
    # HMAC-SHA256 key of the bounce webhook (X-Opencomms-Signature) and of the one-click
    # unsubscribe links; without it neither is offered
    webhook_secret: str = ""
    webhook_secret_env: str = ""
    # RFC 3461 NOTIFY of each recipient: which DSNs to ask for. SUCCESS makes a mail
    # DELIVERED when the relay chain reports it; without it a mail stays SENT
    dsn_notify: Annotated[str, msgspec.Meta(pattern=_NOTIFY)] = "SUCCESS,FAILURE,DELAY"
    list_unsubscribe: bool = True  # List-Unsubscribe + List-Unsubscribe-Post headers
    max_backoff: str = "5m"  # the longest wait a 4xx reply asks for
    fallback_timeout: str = "10m"
    receipt_wait: str = "72h"

    def __post_init__(self) -> None:
        if self.username and not (self.password or self.password_env):
            raise ValueError("a username needs password_env (or password)")
        if self.bounce_listen:
            host_port(self.bounce_listen)

    def __repr__(self) -> str:
        """Every field but the secrets, so that logging the settings leaks none."""
        shown = ", ".join(
            f"{name}={'***' if name in SECRET_FIELDS and value else repr(value)}"
            for name in self.__struct_fields__
            for value in (getattr(self, name),)
        )
        return f"SmtpConfig({shown})"


def host_port(text: str) -> tuple[str, int]:
    """`"0.0.0.0:2525"` as ("0.0.0.0", 2525); `"[::1]:25"` as ("::1", 25)."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not 0 <= int(port) <= 65_535 or not host:
        raise ValueError(f"bounce_listen must be host:port, not {text!r}")
    return host.strip("[]"), int(port)
