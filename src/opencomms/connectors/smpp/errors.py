"""SMPP command_status values, and what each means for a submitted attempt.

A submit_sm_resp's status becomes one of the engine's closed vocabulary: ACCEPTED
(0), THROTTLED (the SMSC asks us to slow down: nothing failed), or REJECTED with a
Twilio error code where one fits (docs/smpp.md has the table). The SMPP name is kept
in the error message, so an operator can read what the SMSC said.
"""

from __future__ import annotations

from typing import NamedTuple

from opencomms.domain.errors import UNKNOWN

__all__ = [
    "ESME_RINVCMDID",
    "ESME_RMSGQFUL",
    "ESME_ROK",
    "ESME_RTHROTTLED",
    "INVALID_FROM",
    "INVALID_TO",
    "STATUS_NAMES",
    "THROTTLING_STATUSES",
    "SubmitError",
    "status_name",
    "submit_error",
]

ESME_ROK = 0x00
ESME_RINVCMDID = 0x03
ESME_RMSGQFUL = 0x14
ESME_RTHROTTLED = 0x58

INVALID_TO = 21211
INVALID_FROM = 21212

# SMPP 3.4 §5.1.3: name and meaning of every defined command_status
STATUS_NAMES: dict[int, tuple[str, str]] = {
    0x00: ("ESME_ROK", "No error"),
    0x01: ("ESME_RINVMSGLEN", "Message length is invalid"),
    0x02: ("ESME_RINVCMDLEN", "Command length is invalid"),
    0x03: ("ESME_RINVCMDID", "Invalid command ID"),
    0x04: ("ESME_RINVBNDSTS", "Incorrect bind status for given command"),
    0x05: ("ESME_RALYBND", "ESME already in bound state"),
    0x06: ("ESME_RINVPRTFLG", "Invalid priority flag"),
    0x07: ("ESME_RINVREGDLVFLG", "Invalid registered delivery flag"),
    0x08: ("ESME_RSYSERR", "System error"),
    0x0A: ("ESME_RINVSRCADR", "Invalid source address"),
    0x0B: ("ESME_RINVDSTADR", "Invalid destination address"),
    0x0C: ("ESME_RINVMSGID", "Message ID is invalid"),
    0x0D: ("ESME_RBINDFAIL", "Bind failed"),
    0x0E: ("ESME_RINVPASWD", "Invalid password"),
    0x0F: ("ESME_RINVSYSID", "Invalid system ID"),
    0x11: ("ESME_RCANCELFAIL", "Cancel SM failed"),
    0x13: ("ESME_RREPLACEFAIL", "Replace SM failed"),
    0x14: ("ESME_RMSGQFUL", "Message queue full"),
    0x15: ("ESME_RINVSERTYP", "Invalid service type"),
    0x33: ("ESME_RINVNUMDESTS", "Invalid number of destinations"),
    0x34: ("ESME_RINVDLNAME", "Invalid distribution list name"),
    0x40: ("ESME_RINVDESTFLAG", "Destination flag is invalid"),
    0x42: ("ESME_RINVSUBREP", "Invalid submit with replace request"),
    0x43: ("ESME_RINVESMCLASS", "Invalid esm_class field data"),
    0x44: ("ESME_RCNTSUBDL", "Cannot submit to distribution list"),
    0x45: ("ESME_RSUBMITFAIL", "submit_sm or submit_multi failed"),
    0x48: ("ESME_RINVSRCTON", "Invalid source address TON"),
    0x49: ("ESME_RINVSRCNPI", "Invalid source address NPI"),
    0x50: ("ESME_RINVDSTTON", "Invalid destination address TON"),
    0x51: ("ESME_RINVDSTNPI", "Invalid destination address NPI"),
    0x53: ("ESME_RINVSYSTYP", "Invalid system_type field"),
    0x54: ("ESME_RINVREPFLAG", "Invalid replace_if_present flag"),
    0x55: ("ESME_RINVNUMMSGS", "Invalid number of messages"),
    0x58: ("ESME_RTHROTTLED", "Throttling error (ESME has exceeded allowed message limits)"),
    0x61: ("ESME_RINVSCHED", "Invalid scheduled delivery time"),
    0x62: ("ESME_RINVEXPIRY", "Invalid message validity period (expiry time)"),
    0x63: ("ESME_RINVDFTMSGID", "Predefined message invalid or not found"),
    0x64: ("ESME_RX_T_APPN", "ESME receiver temporary app error code"),
    0x65: ("ESME_RX_P_APPN", "ESME receiver permanent app error code"),
    0x66: ("ESME_RX_R_APPN", "ESME receiver reject message error code"),
    0x67: ("ESME_RQUERYFAIL", "query_sm request failed"),
    0xC0: ("ESME_RINVOPTPARSTREAM", "Error in the optional part of the PDU body"),
    0xC1: ("ESME_ROPTPARNOTALLWD", "Optional parameter not allowed"),
    0xC2: ("ESME_RINVPARLEN", "Invalid parameter length"),
    0xC3: ("ESME_RMISSINGOPTPARAM", "Expected optional parameter missing"),
    0xC4: ("ESME_RINVOPTPARAMVAL", "Invalid optional parameter value"),
    0xFE: ("ESME_RDELIVERYFAILURE", "Delivery failure (used for data_sm_resp)"),
    0xFF: ("ESME_RUNKNOWNERR", "Unknown error"),
}

THROTTLING_STATUSES = frozenset({ESME_RMSGQFUL, ESME_RTHROTTLED})

# statuses with a Twilio code of their own; every other refusal is 30008 (unknown)
_TWILIO_CODES: dict[int, int] = {
    0x0A: INVALID_FROM,  # ESME_RINVSRCADR
    0x48: INVALID_FROM,  # ESME_RINVSRCTON
    0x49: INVALID_FROM,  # ESME_RINVSRCNPI
    0x0B: INVALID_TO,  # ESME_RINVDSTADR
    0x50: INVALID_TO,  # ESME_RINVDSTTON
    0x51: INVALID_TO,  # ESME_RINVDSTNPI
}


class SubmitError(NamedTuple):
    code: int
    message: str


def status_name(status: int) -> str:
    """`ESME_RINVDSTADR (0x0000000B)`; an undefined or vendor status by its number."""
    name = STATUS_NAMES.get(status, ("ESME_UNDEFINED",))[0]
    return f"{name} (0x{status:08X})"


def submit_error(status: int) -> SubmitError:
    """The error an attempt refused with this (non-throttling) status fails with."""
    meaning = STATUS_NAMES.get(status, ("", "Undefined or vendor-specific status"))[1]
    return SubmitError(
        _TWILIO_CODES.get(status, UNKNOWN.code), f"SMPP {status_name(status)}: {meaning}"
    )
