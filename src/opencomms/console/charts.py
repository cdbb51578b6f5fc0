"""Server-rendered SVG charts: plain shapes, a title and a description for screen
readers, and the same figures in a table beside them."""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Bar", "column_chart"]

WIDTH, HEIGHT = 600, 160


class Bar(NamedTuple):
    x: float
    y: float
    width: float
    height: float
    value: int


def column_chart(counts: list[int]) -> list[Bar]:
    """One column per count, scaled to the chart's height by the largest."""
    top = max(counts, default=0) or 1
    slot = WIDTH / max(1, len(counts))
    bars = []
    for index, count in enumerate(counts):
        height = HEIGHT * count / top
        bars.append(Bar(index * slot + 1, HEIGHT - height, slot - 2, height, count))
    return bars
