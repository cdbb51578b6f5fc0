"""An `smpp` connector's operator settings: one SMSC account (`[connectors.<name>]`,
`type = "smpp"`). The settings loader resolves `password_env` and checks the durations."""

from __future__ import annotations

from typing import Annotated, ClassVar, Literal

import msgspec

from opencomms.settings import ConnectorSettings

__all__ = ["SmppConfig"]

Port = Annotated[int, msgspec.Meta(ge=1, le=65535)]
Positive = Annotated[int, msgspec.Meta(ge=1)]
Octet = Annotated[int, msgspec.Meta(ge=0, le=255)]


class SmppConfig(ConnectorSettings, tag="smpp", kw_only=True):
    # what a sender on this connector may be (SMPP carries SMS only)
    channels: ClassVar[frozenset[str]] = frozenset({"SMS"})
    durations: ClassVar[tuple[str, ...]] = (
        "enquire_link_interval",
        "response_timeout",
        "reconnect_min",
        "reconnect_max",
        "receipt_wait",
        "fallback_timeout",
    )

    host: str
    port: Port = 2775
    system_id: str
    password: str = ""  # or, better, `password_env`: the variable that holds it
    password_env: str = ""
    system_type: str = ""
    # transceiver: every bind submits and receives; transmitter: submit only (receipts
    # then need separate receiver binds, which `receiver` opens alongside)
    bind_mode: Literal["transceiver", "transmitter", "receiver"] = "transceiver"
    binds: Positive = 1  # parallel binds
    window: Positive = 10  # outstanding submit_sm per bind
    throughput: Annotated[float, msgspec.Meta(ge=0)] = 0  # msg/s, all binds; 0: no cap
    source_ton: Octet = 1
    source_npi: Octet = 1
    dest_ton: Octet = 1
    dest_npi: Octet = 1
    default_data_coding: Octet = 0  # 0: SMSC default alphabet (GSM-7); UCS-2 is 8
    enquire_link_interval: str = "30s"
    response_timeout: str = "10s"  # a submit_sm unanswered this long counts as lost
    reconnect_min: str = "1s"  # backoff between reconnects, doubling up to max
    reconnect_max: str = "30s"
    receipt_wait: str = "72h"  # of the senders on this connector
    fallback_timeout: str = "60s"

    def __repr__(self) -> str:
        """Every field but the password, so that logging the settings leaks no secret."""
        shown = ", ".join(
            f"{name}={getattr(self, name)!r}"
            for name in self.__struct_fields__
            if name != "password"
        )
        return f"SmppConfig({shown}, password=***)"
