"""Delivery error codes: Twilio's where it has one (the list is in docs/errors.md)."""

from __future__ import annotations

from typing import NamedTuple

__all__ = [
    "NO_CANDIDATE",
    "RCS_NOT_ENABLED",
    "TEMPLATE_FAILED",
    "UNKNOWN",
    "UNREACHABLE",
    "UNSTORABLE",
    "UNSUBSCRIBED",
    "WHATSAPP_NOT_FOUND",
    "DeliveryError",
]


class DeliveryError(NamedTuple):
    code: int
    message: str


RCS_NOT_ENABLED = DeliveryError(61337, "Recipient does not have RCS enabled.")
WHATSAPP_NOT_FOUND = DeliveryError(63003, "Channel could not find To address.")
UNREACHABLE = DeliveryError(30003, "Unreachable destination handset.")
UNKNOWN = DeliveryError(30008, "Unknown error.")
NO_CANDIDATE = DeliveryError(21612, "No sender of the pool can reach this recipient.")
# opencomms' own code: Twilio has none for a per-recipient rendering failure
UNSUBSCRIBED = DeliveryError(21610, "Attempt to send to unsubscribed recipient.")
TEMPLATE_FAILED = DeliveryError(30099, "The content could not be rendered for this recipient:")
# opencomms' own code: data made for one recipient (a tag its template rendered) cannot
# be stored (domain/storable.py); that recipient alone fails
UNSTORABLE = DeliveryError(30098, "The data made for this recipient cannot be stored:")
