"""JSON columns are TEXT on both engines; one encoder and decoder for them."""

from __future__ import annotations

from typing import Any

import msgspec

__all__ = ["dump", "load"]

_encoder = msgspec.json.Encoder()
_decoder = msgspec.json.Decoder()


def dump(value: Any) -> str:
    return _encoder.encode(value).decode()


def load(text: str | bytes | None) -> Any:
    return None if text is None else _decoder.decode(text)
