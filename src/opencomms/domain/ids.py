"""Identifiers, in the forms of the wire contract (API.md, "Identifiers")."""

from __future__ import annotations

import re
import secrets

from ulid import ULID

__all__ = [
    "ACCOUNT_SID_RE",
    "API_KEY_SID_RE",
    "CONTENT_SID_RE",
    "MESSAGE_ID_RE",
    "OPERATION_ID_RE",
    "SINK_ID_RE",
    "SUBSCRIPTION_ID_RE",
    "new_account_sid",
    "new_api_key_secret",
    "new_api_key_sid",
    "new_attempt_id",
    "new_auth_token",
    "new_content_sid",
    "new_inbound_id",
    "new_message_id",
    "new_operation_id",
    "new_opt_out_id",
    "new_sender_id",
    "new_sender_pool_id",
    "new_sink_id",
    "new_subscription_id",
    "ulid_floor",
]

_ULID = "[0-7][0-9a-hjkmnp-tv-z]{25}"
OPERATION_ID_RE = re.compile(rf"^comms_operation_{_ULID}\Z")
MESSAGE_ID_RE = re.compile(rf"^comms_message_{_ULID}\Z")
SENDER_ID_RE = re.compile(rf"^comms_sender_{_ULID}\Z")
SENDER_POOL_ID_RE = re.compile(rf"^comms_senderpool_{_ULID}\Z")
ACCOUNT_SID_RE = re.compile(r"^AC[0-9a-f]{32}\Z")
API_KEY_SID_RE = re.compile(r"^SK[0-9a-f]{32}\Z")
SINK_ID_RE = re.compile(r"^DG[0-9a-f]{32}\Z")
SUBSCRIPTION_ID_RE = re.compile(r"^DF[0-9a-f]{32}\Z")
# Twilio's Content SIDs are HX and 32 hex digits, of either case
CONTENT_SID_RE = re.compile(r"^HX[0-9a-fA-F]{32}\Z")


def _ulid() -> str:
    return str(ULID()).lower()


def new_operation_id() -> str:
    return f"comms_operation_{_ulid()}"


def new_message_id() -> str:
    return f"comms_message_{_ulid()}"


def new_inbound_id() -> str:
    return f"comms_inbound_{_ulid()}"


def new_opt_out_id() -> str:
    return f"comms_optout_{_ulid()}"


def new_sender_id() -> str:
    return f"comms_sender_{_ulid()}"


def new_sender_pool_id() -> str:
    return f"comms_senderpool_{_ulid()}"


def new_attempt_id(*, media: bool = False) -> str:
    """A delivery attempt id: `SM` (or `MM` when it carries media) and 32 hex digits."""
    return ("MM" if media else "SM") + secrets.token_hex(16)


def new_sink_id() -> str:
    """`DG` and 32 hex digits, as Twilio's sinks; the hex is a ULID, so ids sort by time."""
    return "DG" + ULID().hex


def new_subscription_id() -> str:
    return "DF" + ULID().hex


def new_content_sid() -> str:
    """A content template's SID: `HX` and 32 hex digits (a ULID: sids sort by time)."""
    return "HX" + ULID().hex


def new_account_sid() -> str:
    return "AC" + secrets.token_hex(16)


def new_auth_token() -> str:
    return secrets.token_hex(16)


def new_api_key_sid() -> str:
    return "SK" + secrets.token_hex(16)


def new_api_key_secret() -> str:
    return secrets.token_urlsafe(24)[:32]


def ulid_floor(prefix: str, epoch_ms: int) -> str:
    """The smallest id of `prefix` created at `epoch_ms`: ids sort by creation time,
    so a date filter becomes a range over the primary key."""
    return prefix + str(ULID.from_timestamp(epoch_ms / 1000)).lower()[:10] + "0" * 16
