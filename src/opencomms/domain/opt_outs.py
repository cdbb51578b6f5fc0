"""The opt-out rule: whether a suppression list entry bars an address from a channel."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TypeVar

__all__ = ["opted_out_of"]

K = TypeVar("K")


def opted_out_of(listed: Mapping[K, str | None], key: K, channel: str) -> bool:
    """Whether `listed` (what the suppression list holds: the listed channel, None for
    every channel) bars `key` from `channel`."""
    return key in listed and listed[key] in (None, channel)
