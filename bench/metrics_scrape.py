"""`/metrics` scraped when a bench server is up and again before it stops: the figures
that moved during the scenario are printed and saved beside the server's log
(`metrics-<port>.json`), so a bench run shows the counters a Prometheus would see."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

__all__ = ["Figures", "moved", "save_moved", "scrape"]

Figures = dict[str, float]
# the samples summed over their labels (a Prometheus `sum(...)`)
SUMMED = (
    "opencomms_messages_accepted_total",
    "opencomms_http_requests_total",
    "opencomms_attempts_total",
    "opencomms_submit_seconds_count",
    "opencomms_submit_seconds_sum",
    "opencomms_receipt_seconds_count",
    "opencomms_receipt_seconds_sum",
    "opencomms_sink_deliveries_total",
    "opencomms_database_seconds_count",
    "opencomms_database_seconds_sum",
)


def scrape(url: str) -> Figures:
    """The summed figures of one scrape; empty when the server does not answer."""
    try:
        answer = httpx.get(url + "/metrics", timeout=10)
    except httpx.HTTPError:
        return {}
    if answer.status_code != 200:
        return {}
    figures: Figures = dict.fromkeys(SUMMED, 0.0)
    for family in text_string_to_metric_families(answer.text):
        for sample in family.samples:
            if sample.name in figures:
                figures[sample.name] += sample.value
    return figures


def moved(before: Figures, after: Figures) -> Figures:
    return {name: after[name] - before.get(name, 0.0) for name in after}


def save_moved(directory: Path, port: int, before: Figures, after: Figures) -> None:
    if not before or not after:
        return
    delta = moved(before, after)
    path = directory / f"metrics-{port}.json"
    path.write_text(json.dumps({"before": before, "after": after, "moved": delta}, indent=2))
    accepted = delta["opencomms_messages_accepted_total"]
    attempts = delta["opencomms_attempts_total"]
    print(f"   /metrics moved: {accepted:.0f} accepted, {attempts:.0f} attempt steps ({path})")
