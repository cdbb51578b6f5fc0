"""The single-sends chart: each run's backlog over time, one panel per engine."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from bench.report import Run

__all__ = ["single_sends_chart"]


def _series(run: Run) -> dict[str, list[tuple[str, list[list[float]]]]]:
    """engine → [(label, backlog points)] of the single-sends runs that have them."""
    found: dict[str, list[tuple[str, list[list[float]]]]] = {}
    for result in run.results:
        points = result.details.get("backlog") if result.scenario == "single-sends" else None
        if points:
            rate = result.details["rate"]
            label = f"{rate:,.0f}/s offered" if rate else "maximum"
            found.setdefault(result.engine, []).append((label, points))
    return found


def single_sends_chart(run: Run, path: Path) -> bool:
    """Recipients accepted and not yet SENT (solid) and not yet COMPLETED (dotted), against
    seconds since the first POST; False when there is nothing to draw or no matplotlib."""
    series = _series(run)
    if not series:
        return False
    try:
        import matplotlib  # noqa: PLC0415  (only the chart needs it: the `bench` extra)
    except ImportError:
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, panels = plt.subplots(1, len(series), figsize=(7 * len(series), 5), squeeze=False)
    for axes, (engine, runs) in zip(panels[0], sorted(series.items()), strict=True):
        for index, (label, points) in enumerate(runs):
            colour = f"C{index}"
            seconds = [p[0] for p in points]
            axes.plot(seconds, [p[1] for p in points], "-", color=colour, label=label)
            axes.plot(seconds, [p[2] for p in points], ":", color=colour)
        axes.set_title(f"single-sends on {engine}")
        axes.set_xlabel("seconds since the first POST")
        axes.set_ylabel("operations not yet SENT (dotted: not yet COMPLETED)")
        axes.grid(alpha=0.3)
        axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True
