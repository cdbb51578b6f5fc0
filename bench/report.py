"""Results: one record per scenario and engine, the final table, the JSON and the chart."""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from bench.backlog_chart import single_sends_chart

__all__ = ["Result", "Run", "load_now", "machine_info", "print_table", "save"]


@dataclass
class Result:
    """One measured figure, its target, and whether the scenario's own checks held.

    `passed` is None while not judged; a scenario whose checks failed has `error` set and
    fails whatever its figure."""

    scenario: str
    engine: str
    metric: str
    unit: str
    target: str
    measured: float | None = None
    met: bool | None = None  # the figure reached its target
    error: str | None = None  # a correctness check failed (or the run broke)
    ratio: str = ""  # the figure as a share of the machine's limit, where one applies
    load: tuple[float, float, float] = (0.0, 0.0, 0.0)
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool:
        return self.error is None and bool(self.met)

    @property
    def verdict(self) -> str:
        if self.error is not None:
            return "FAIL (check)"
        return "pass" if self.met else "MISS"


@dataclass
class Run:
    started_at: str
    machine: dict[str, Any]
    parameters: dict[str, Any]
    results: list[Result] = field(default_factory=list)
    # label -> [(seconds since the first POST, Messages settled)], for the chart
    progress: dict[str, list[tuple[float, int]]] = field(default_factory=dict)
    duration_s: float = 0.0

    def add(self, result: Result) -> Result:
        self.results.append(result)
        return result


def load_now() -> tuple[float, float, float]:
    one, five, fifteen = os.getloadavg()
    return (round(one, 2), round(five, 2), round(fifteen, 2))


def _uptime() -> str:
    try:
        return subprocess.run(["uptime"], capture_output=True, text=True, check=False).stdout
    except OSError:
        return ""


def machine_info() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "platform": platform.platform(),
        "uptime": _uptime().strip(),
    }


def _figure(value: float | None) -> str:
    if value is None:
        return "-"
    return f"{value:,.0f}" if abs(value) >= 100 else f"{value:,.2f}"


def print_table(run: Run) -> str:
    """The final table, printed and returned (the README embeds it)."""
    headers = ("scenario", "engine", "metric", "target", "measured", "ratio", "load 1m", "result")
    rows = [
        (
            r.scenario,
            r.engine,
            r.metric,
            r.target,
            f"{_figure(r.measured)} {r.unit}",
            r.ratio,
            f"{r.load[0]:.2f}",
            r.verdict,
        )
        for r in run.results
    ]
    widths = [max(len(str(x)) for x in column) for column in zip(headers, *rows, strict=False)]
    lines = [
        "| " + " | ".join(str(x).ljust(w) for x, w in zip(row, widths, strict=True)) + " |"
        for row in (headers, tuple("-" * w for w in widths), *rows)
    ]
    errors = list(
        dict.fromkeys(f"  {r.scenario} ({r.engine}): {r.error}" for r in run.results if r.error)
    )
    text = "\n".join(lines + (["", "check failures:", *errors] if errors else []))
    print(text, flush=True)
    return text


def _chart(run: Run, path: Path) -> bool:
    if not run.progress:
        return False
    try:
        import matplotlib  # noqa: PLC0415  (only the chart needs it: the `bench` extra)
    except ImportError:
        print("no chart: matplotlib is not installed (pip install -e '.[bench]')")
        return False
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt  # noqa: PLC0415

    figure, axes = plt.subplots(figsize=(10, 5.5))
    colours = {"sqlite": "tab:blue", "postgresql": "tab:orange"}
    for label, points in run.progress.items():
        if points:
            engine = label.split()[0]
            style = ":" if "events" in label else "-" if "sink" in label else "--"
            axes.plot(
                [p[0] for p in points],
                [p[1] for p in points],
                style,
                color=colours.get(engine, "tab:gray"),
                label=label,
            )
    axes.set_xlabel("seconds since the first POST")
    axes.set_ylabel("Messages settled (dotted: events received ÷ 4)")
    size = f"{run.parameters['e2e_operations']} operations of {run.parameters['e2e_recipients']:,}"
    axes.set_title(f"end-to-end: {size} recipients, simulator at zero latency")
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=100)
    plt.close(figure)
    return True


def save(run: Run, directory: Path) -> dict[str, Path]:
    """`<timestamp>.json` and `latest.json` (and the chart beside them, as .png)."""
    directory.mkdir(parents=True, exist_ok=True)
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    document = {
        "started_at": run.started_at,
        "duration_s": round(run.duration_s, 1),
        "machine": run.machine,
        "parameters": run.parameters,
        "results": [{**asdict(r), "verdict": r.verdict} for r in run.results],
        "progress": run.progress,
    }
    text = json.dumps(document, indent=2, default=str)
    written = {"json": directory / f"{stamp}.json", "latest": directory / "latest.json"}
    for path in written.values():
        path.write_text(text + "\n")
    chart = directory / f"{stamp}-end-to-end.png"
    if _chart(run, chart):
        (directory / "latest-end-to-end.png").write_bytes(chart.read_bytes())
        written["chart"] = chart
    backlog = directory / f"{stamp}-single-sends.png"
    if single_sends_chart(run, backlog):
        (directory / "latest-single-sends.png").write_bytes(backlog.read_bytes())
        written["backlog chart"] = backlog
    return written
