"""`GET /metrics`: Prometheus's text format. The process's counters and histograms
(metrics/instruments.py; with PROMETHEUS_MULTIPROC_DIR set, every process's, merged),
then the gauges computed now: the queue's backlog and the age of its oldest due Message
(two bounded queries), and each SMPP connector's bound sessions. Open unless
`[server] metrics_token` is set: then `Authorization: Bearer <token>` (docs/metrics.md)."""

from __future__ import annotations

import hmac
import os
from collections.abc import Iterator
from typing import Any

from litestar import Request, Response, get
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import Collector

from opencomms.api.common import runtime_of
from opencomms.api.errors import ApiError
from opencomms.domain.clock import now_ms
from opencomms.store.queue_gauges import QueueGauges, queue_gauges

__all__ = ["scrape"]

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class _Gauges(Collector):
    """The figures read for this scrape, as gauge families."""

    def __init__(self, queue: QueueGauges, binds: dict[str, tuple[int, int]]) -> None:
        self.queue = queue
        self.binds = binds

    def collect(self) -> Iterator[GaugeMetricFamily]:
        yield GaugeMetricFamily(
            "opencomms_queue_backlog", "Recipients waiting for the server", self.queue.backlog
        )
        first_due = self.queue.first_due_at
        age = 0.0 if first_due is None else max(0, now_ms() - first_due) / 1000
        yield GaugeMetricFamily(
            "opencomms_queue_oldest_due_seconds", "How late the oldest due Message is", age
        )
        bound = GaugeMetricFamily(
            "opencomms_smpp_binds", "SMPP sessions by state", labels=["connector", "state"]
        )
        for name, (up, total) in sorted(self.binds.items()):
            bound.add_metric([name, "bound"], up)
            bound.add_metric([name, "unbound"], total - up)
        yield bound


def _counters() -> bytes:
    if "PROMETHEUS_MULTIPROC_DIR" in os.environ:
        merged = CollectorRegistry()
        MultiProcessCollector(merged)  # type: ignore[no-untyped-call]
        return generate_latest(merged)
    return generate_latest(REGISTRY)


def _check_token(request: Request[Any, Any, Any], token: str) -> None:
    if not token:
        return
    given = request.headers.get("authorization", "")
    if not hmac.compare_digest(given.encode(), f"Bearer {token}".encode()):
        raise ApiError(401, "Give the metrics token: Authorization: Bearer <token>.")


@get("/metrics", exclude_from_auth=True, include_in_schema=False)
async def scrape(request: Request[Any, Any, Any]) -> Response[bytes]:
    runtime = runtime_of(request)
    _check_token(request, runtime.settings.server.metrics_token)
    queue = await runtime.db.read(queue_gauges)
    binds = {
        name: connector.bind_states()
        for name, connector in runtime.connectors.items()
        if hasattr(connector, "bind_states")
    }
    gauges = CollectorRegistry()
    gauges.register(_Gauges(queue, binds))
    body = _counters() + generate_latest(gauges)
    return Response(body, media_type=CONTENT_TYPE)
