"""Scheduled operations: SCHEDULED until `sendAt`, then sent and COMPLETED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import httpx

from tests.support.polling import (
    all_messages,
    operation,
    send,
    wait_completed,
    wait_stats,
    wait_until,
)


def test_a_scheduled_operation_waits_for_send_at(api: httpx.Client) -> None:
    send_at = datetime.now(UTC) + timedelta(seconds=2)
    to = [{"address": f"+1415555{n:04d}", "channel": "PHONE"} for n in range(100, 103)]
    operation_id = send(
        api,
        {
            "to": to,
            "content": {"text": "Later"},
            "schedule": {"sendAt": [send_at.isoformat().replace("+00:00", "Z")]},
        },
    )

    waiting = wait_until(lambda: (o := operation(api, operation_id))["stats"]["total"] == 3 and o)
    assert waiting["status"] == "SCHEDULED"
    assert waiting["stats"]["scheduled"] == 3
    messages = all_messages(api, operationId=operation_id)
    assert {m["status"] for m in messages} == {"SCHEDULED"}
    scheduled_for = datetime.fromisoformat(messages[0]["scheduledFor"].replace("Z", "+00:00"))
    assert abs((scheduled_for - send_at).total_seconds()) < 0.01

    wait_completed(api, operation_id)
    final = wait_stats(api, operation_id, read=3)

    assert datetime.now(UTC) >= send_at
    assert final["stats"]["scheduled"] == 0
