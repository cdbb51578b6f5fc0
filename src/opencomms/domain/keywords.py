"""Opt-out and opt-in keywords in what recipients write back (Twilio's default set).

A message is a keyword when, trimmed of spaces and punctuation and case-folded, it is one
of these words alone: "Stop." and " stop " are, "please stop texting me" is not (carriers
and Twilio match the whole message, so ordinary replies never unsubscribe anyone).
"""

from __future__ import annotations

import string
from enum import StrEnum

__all__ = ["Keyword", "keyword_of"]


class Keyword(StrEnum):
    STOP = "STOP"
    START = "START"


STOP_WORDS = frozenset({"STOP", "STOPALL", "UNSUBSCRIBE", "CANCEL", "END", "QUIT", "OPTOUT"})
START_WORDS = frozenset({"START", "YES", "UNSTOP"})

_TRIM = string.whitespace + string.punctuation


def keyword_of(text: str) -> Keyword | None:
    word = text.strip(_TRIM).upper()
    if word in STOP_WORDS:
        return Keyword.STOP
    if word in START_WORDS:
        return Keyword.START
    return None
