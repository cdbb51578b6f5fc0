"""Waiting for asynchronous outcomes without fixed sleeps."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

import httpx


def wait_until(check: Callable[[], Any], timeout: float = 30, interval: float = 0.05) -> Any:
    """Poll `check` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value: {value!r})")
        time.sleep(interval)


def operation(api: httpx.Client, operation_id: str) -> dict[str, Any]:
    response = api.get(f"/Messages/Operations/{operation_id}")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_completed(api: httpx.Client, operation_id: str, timeout: float = 60) -> dict[str, Any]:
    """The operation once COMPLETED; its stats invariants are checked on every poll."""

    def completed() -> dict[str, Any] | None:
        body = operation(api, operation_id)
        assert_stats_consistent(body["stats"])
        return body if body["status"] == "COMPLETED" else None

    result: dict[str, Any] = wait_until(completed, timeout)
    return result


BUCKETS = ("scheduled", "queued", "sent", "delivered", "read", "undelivered", "failed", "canceled")


def assert_stats_consistent(stats: dict[str, int]) -> None:
    assert stats["recipients"] == stats["total"] + stats["unaddressable"], stats
    assert stats["total"] == sum(stats[b] for b in BUCKETS), stats
    assert all(value >= 0 for value in stats.values()), stats


def send(api: httpx.Client, body: dict[str, Any]) -> str:
    response = api.post("/Messages", json=body)
    assert response.status_code == 202, response.text
    operation_id: str = response.json()["operationId"]
    return operation_id


def all_messages(api: httpx.Client, **params: Any) -> list[dict[str, Any]]:
    """Every Message matching `params`, following the pages."""
    found: list[dict[str, Any]] = []
    query = {"pageSize": 1000, **params}
    while True:
        response = api.get("/Messages", params=query)
        assert response.status_code == 200, response.text
        page = response.json()
        found += page["messages"]
        if not page["pagination"]["next"]:
            return found
        query["pageToken"] = page["pagination"]["next"]


def wait_stats(api: httpx.Client, operation_id: str, **expected: int) -> dict[str, Any]:
    """The operation once its stats show `expected` (a READ receipt may follow COMPLETED)."""

    def matches() -> dict[str, Any] | None:
        body = operation(api, operation_id)
        stats = body["stats"]
        return body if all(stats[key] == value for key, value in expected.items()) else None

    result: dict[str, Any] = wait_until(matches)
    return result
