"""The counters and histograms, one process's (prometheus-client's default registry, or
its multiprocess files when PROMETHEUS_MULTIPROC_DIR is set: docs/metrics.md). Each hook
in the code is one call here: incrementing costs a lock and an add, nothing is sent."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

__all__ = [
    "ATTEMPTS",
    "DATABASE_SECONDS",
    "MESSAGES_ACCEPTED",
    "RECEIPT_SECONDS",
    "REQUESTS",
    "SINK_DELIVERIES",
    "SINK_LAG_SECONDS",
    "SUBMIT_SECONDS",
    "attempt_status",
    "sink_delivery",
]

# seconds: a submit is milliseconds, a receipt seconds to hours
FAST = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30)
SLOW = (0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400)

REQUESTS = Counter(
    "opencomms_http_requests", "HTTP requests answered", ["method", "route", "status"]
)
MESSAGES_ACCEPTED = Counter(
    "opencomms_messages_accepted", "Messages accepted by POST /v1/Messages (one per recipient)"
)
ATTEMPTS = Counter(
    "opencomms_attempts",
    "Attempt status changes, as recorded (SENT, DELIVERED, FAILED, ...)",
    ["connector", "channel", "outcome"],
)
SUBMIT_SECONDS = Histogram(
    "opencomms_submit_seconds",
    "Time of one connector submit call (a batch)",
    ["connector"],
    buckets=FAST,
)
RECEIPT_SECONDS = Histogram(
    "opencomms_receipt_seconds",
    "From an attempt's submit to its delivery receipt",
    ["connector"],
    buckets=SLOW,
)
SINK_DELIVERIES = Counter(
    "opencomms_sink_deliveries",
    "Event batches POSTed to sinks, by outcome (DELIVERED, FAILED, ABANDONED, DISABLED)",
    ["sink", "outcome"],
)
SINK_LAG_SECONDS = Histogram(
    "opencomms_sink_lag_seconds",
    "From an event's creation to its batch's POST to the sink",
    ["sink"],
    buckets=SLOW,
)
DATABASE_SECONDS = Histogram(
    "opencomms_database_seconds",
    "Time of one database transaction, by mode (read, write) and intent",
    ["mode", "intent"],
    buckets=FAST,
)
# the first receipt (a later READ is the reader, not the provider)
RECEIPT_STATUSES = frozenset({"DELIVERED", "UNDELIVERED"})


def attempt_status(connector: str, channel: str, status: str, waited_ms: int | None) -> None:
    """An attempt reached `status`; a receipt's wait (`waited_ms` since its submit) too."""
    ATTEMPTS.labels(connector, channel, status).inc()
    if waited_ms is not None and status in RECEIPT_STATUSES:
        RECEIPT_SECONDS.labels(connector).observe(waited_ms / 1000)


def sink_delivery(sink: str, outcome: str, lag_ms: int) -> None:
    SINK_DELIVERIES.labels(sink, outcome).inc()
    if outcome == "DELIVERED":
        SINK_LAG_SECONDS.labels(sink).observe(max(lag_ms, 0) / 1000)
