"""Which addresses a sender may have on each channel (checked by the API and the
operator's configuration alike), and the one key each address is owned under.

An address belongs to one account (or to the operator) on a connector, whatever its
spelling: `address_key` turns every spelling of one address into the same key, so that
"+12065558844" and "12065558844" (an SMSC's spelling), or "Team@Example.com" and
"team@example.com", cannot be owned by two accounts.
"""

from __future__ import annotations

import re

from opencomms.domain.addresses import normalize_address
from opencomms.domain.channels import RecipientChannel, SenderChannel

__all__ = ["CONTROL", "FORMS", "address_key", "sender_address_problem"]

_E164 = re.compile(r"\+[1-9][0-9]{1,14}")
_SHORT_CODE = re.compile(r"[0-9]{3,8}")
_ALPHANUMERIC_ID = re.compile(r"(?=[0-9 ]*[A-Za-z])[A-Za-z0-9 ]{1,11}")  # SMS only
CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")  # no control character reaches the database
_PRINTABLE = re.compile(r"[\x21-\x7e]{1,256}")  # an RCS agent id: printable ASCII, no space
_NUMBER_SPELLING = re.compile(r"[\s().\-]")  # what people and SMSCs put between digits
_DIGITS = re.compile(r"\+?([0-9]+)")
_WHATSAPP_PREFIX = "whatsapp:"
# the forms of a sender's address on each channel but EMAIL (an email address), whole
FORMS: dict[str, tuple[re.Pattern[str], ...]] = {
    SenderChannel.SMS: (_E164, _SHORT_CODE, _ALPHANUMERIC_ID),
    SenderChannel.WHATSAPP: (_E164,),
    SenderChannel.RCS: (_PRINTABLE,),
}


def sender_address_problem(address: str, channel: str) -> str | None:
    """Why `address` cannot be a sender on `channel`, or None when it can."""
    forms: tuple[re.Pattern[str], ...]
    if CONTROL.search(address):
        return "must not contain control characters"
    if channel == SenderChannel.SMS:
        forms = FORMS[channel]
        wanted = "an E.164 number, a short code or an alphanumeric sender id (11 characters)"
    elif channel == SenderChannel.WHATSAPP:
        forms, wanted = FORMS[channel], "an E.164 number such as +12065558844"
    elif channel == SenderChannel.EMAIL:
        if normalize_address(address, RecipientChannel.EMAIL) is None:
            return "must be an email address"
        return None
    else:
        forms, wanted = (
            FORMS[SenderChannel.RCS],
            "an agent id: printable ASCII characters, no spaces",
        )
    if any(form.fullmatch(address) for form in forms):
        return None
    return f"must be {wanted}"


def address_key(channel: str, address: str) -> str:
    """The key `address` is owned under on `channel`'s kind of address: `tel:<digits>` for
    a number or a short code (with or without '+', spaces, dashes, dots or brackets: an
    SMSC may drop the '+', and "+12345" and the short code "12345" are one destination to
    it), `email:` and `agent:` case-insensitively, `name:` for an alphanumeric sender id
    (case and runs of spaces ignored)."""
    if channel == SenderChannel.EMAIL:
        return "email:" + address.strip().casefold()
    if channel == SenderChannel.RCS:
        return "agent:" + address.strip().casefold()
    compact = _NUMBER_SPELLING.sub("", address.removeprefix(_WHATSAPP_PREFIX))
    number = _DIGITS.fullmatch(compact)
    if number is not None:
        return "tel:" + number.group(1)
    return "name:" + " ".join(address.split()).casefold()
