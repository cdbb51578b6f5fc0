"""An `smpp` connector's operator settings: one SMSC account (`[connectors.<name>]`)."""

from __future__ import annotations

from typing import Literal

import msgspec

__all__ = ["SmppConfig"]


class SmppConfig(msgspec.Struct, forbid_unknown_fields=True, kw_only=True):
    type: Literal["smpp"] = "smpp"
    host: str
    port: int = 2775
    system_id: str
    password: str = ""  # or, better, `password_env`: the variable that holds it
    password_env: str = ""
    system_type: str = ""
    # transceiver: every bind submits and receives; transmitter: submit only (receipts
    # then need separate receiver binds, which `receiver` opens alongside)
    bind_mode: Literal["transceiver", "transmitter", "receiver"] = "transceiver"
    binds: int = 1  # parallel binds
    window: int = 10  # outstanding submit_sm per bind
    throughput: float = 0  # messages per second, all binds together; 0: no cap
    source_ton: int = 1
    source_npi: int = 1
    dest_ton: int = 1
    dest_npi: int = 1
    default_data_coding: int = 0  # 0: SMSC default alphabet (GSM-7); UCS-2 is 8
    enquire_link_interval: str = "30s"
    response_timeout: str = "10s"  # a submit_sm unanswered this long counts as lost
    reconnect_min: str = "1s"  # backoff between reconnects, doubling up to max
    reconnect_max: str = "30s"
    receipt_wait: str = "72h"  # of the senders on this connector
    fallback_timeout: str = "60s"
