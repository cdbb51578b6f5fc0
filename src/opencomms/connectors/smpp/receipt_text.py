"""Delivery receipts: telling one from a message, and reading its id and state.

A deliver_sm is a receipt when its esm_class says so (0x04) or when it carries a
receipted_message_id TLV. The id and state come from the TLVs (receipted_message_id,
message_state, network_error_code) when present, else from the de-facto text form
of SMPP 3.4 Appendix B: `id:… sub:… dlvrd:… submit date:… done date:… stat:… err:…
text:…`, read case-insensitively with any field missing.

The id is reported exactly as the SMSC wrote it: some SMSCs answer submit_sm in hex
and write receipts in decimal (or the reverse); the engine matches ids, and
docs/smpp.md says what to expect.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from opencomms.connectors.base import Receipt
from opencomms.connectors.smpp.pdu import ShortMessage, Tag
from opencomms.domain.errors import UNKNOWN, UNREACHABLE

__all__ = ["ESM_RECEIPT", "STATES", "ReceiptState", "is_receipt", "parse_receipt"]

ESM_RECEIPT = 0x04


class ReceiptState(NamedTuple):
    status: str | None  # the engine's status; None: report nothing (UNKNOWN)
    error_code: int | None


# stat text and message_state TLV value -> what the engine hears
STATES: dict[str, ReceiptState] = {
    "DELIVRD": ReceiptState("DELIVERED", None),
    "UNDELIV": ReceiptState("UNDELIVERED", UNREACHABLE.code),
    "EXPIRED": ReceiptState("UNDELIVERED", UNREACHABLE.code),
    "DELETED": ReceiptState("UNDELIVERED", UNKNOWN.code),
    "REJECTD": ReceiptState("FAILED", 30007),  # Twilio: message filtered by the carrier
    "ACCEPTD": ReceiptState("SENT", None),
    "ENROUTE": ReceiptState("SENT", None),
    "UNKNOWN": ReceiptState(None, None),
}
_MESSAGE_STATES = {
    1: "ENROUTE",
    2: "DELIVRD",
    3: "EXPIRED",
    4: "DELETED",
    5: "UNDELIV",
    6: "ACCEPTD",
    7: "UNKNOWN",
    8: "REJECTD",
}
# long forms some SMSCs write in the text
_ALIASES = {
    "DELIVERED": "DELIVRD",
    "UNDELIVERABLE": "UNDELIV",
    "UNDELIVERED": "UNDELIV",
    "ACCEPTED": "ACCEPTD",
    "REJECTED": "REJECTD",
}
_TEXT_FIELD = re.compile(r"\b(id|sub|dlvrd|submit date|done date|stat|err)\s*:\s*(\S*)", re.I)
_TEXT_START = re.compile(r"\btext\s*:", re.I)


def is_receipt(sm: ShortMessage) -> bool:
    return bool(sm.esm_class & ESM_RECEIPT) or Tag.RECEIPTED_MESSAGE_ID in sm.tlvs


def text_fields(text: str) -> dict[str, str]:
    """The `key:value` fields of a receipt's text, keys lower-case; `text:` and what
    follows it is the message's start and is not read."""
    head = _TEXT_START.split(text, maxsplit=1)[0]
    return {key.lower(): value for key, value in _TEXT_FIELD.findall(head)}


def parse_receipt(sm: ShortMessage) -> Receipt | None:
    """The receipt this deliver_sm carries, or None when there is nothing to report
    (state UNKNOWN, or no id at all): the caller acknowledges it all the same."""
    fields = text_fields(sm.short_message.decode("latin-1"))
    message_id = _tlv_string(sm, Tag.RECEIPTED_MESSAGE_ID) or fields.get("id")
    stat = _stat(sm, fields)
    state = STATES.get(stat or "UNKNOWN")
    if not message_id or stat is None or state is None or state.status is None:
        return None
    return Receipt(
        state.status,
        provider_message_id=message_id,
        error_code=state.error_code,
        error_message=_error_message(sm, stat, fields) if state.error_code else None,
    )


def _stat(sm: ShortMessage, fields: dict[str, str]) -> str | None:
    state = sm.tlvs.get(Tag.MESSAGE_STATE)
    if state:
        return _MESSAGE_STATES.get(state[0], "UNKNOWN")
    stat = fields.get("stat", "").upper()
    return _ALIASES.get(stat, stat) or None


def _error_message(sm: ShortMessage, stat: str, fields: dict[str, str]) -> str:
    """`SMPP receipt stat:UNDELIV err:001 network_error:GSM/0x0001`: what the SMSC said."""
    words = [f"SMPP receipt stat:{stat}"]
    if fields.get("err"):
        words.append(f"err:{fields['err']}")
    network = sm.tlvs.get(Tag.NETWORK_ERROR_CODE)
    if network is not None and len(network) == 3:
        kind = {1: "ANSI-136", 2: "IS-95", 3: "GSM"}.get(network[0], str(network[0]))
        words.append(f"network_error:{kind}/0x{int.from_bytes(network[1:], 'big'):04X}")
    return " ".join(words)


def _tlv_string(sm: ShortMessage, tag: int) -> str | None:
    value = sm.tlvs.get(tag)
    if value is None:
        return None
    return value.split(b"\0", 1)[0].decode("latin-1").strip() or None
