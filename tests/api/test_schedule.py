"""Scheduled operations: SCHEDULED until `sendAt`, then sent and COMPLETED."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

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


def test_a_send_at_without_a_zone_is_each_recipients_local_time(api: httpx.Client) -> None:
    local = (datetime.now(UTC) + timedelta(days=2)).replace(
        hour=9, minute=0, second=0, microsecond=0, tzinfo=None
    )
    to = [
        {"address": "+14155550100", "channel": "PHONE"},  # America/Los_Angeles
        {"address": "+33612345678", "channel": "PHONE"},  # Europe/Paris
        {"address": "ann@example.com", "channel": "EMAIL"},  # UTC
    ]
    operation_id = send(
        api,
        {"to": to, "content": {"text": "Good morning"}, "schedule": {"sendAt": local.isoformat()}},
    )
    waiting = wait_until(lambda: (o := operation(api, operation_id))["stats"]["total"] == 3 and o)

    assert waiting["status"] == "SCHEDULED"
    scheduled = {
        m["to"][0]["address"]: datetime.fromisoformat(m["scheduledFor"].replace("Z", "+00:00"))
        for m in all_messages(api, operationId=operation_id)
    }
    for address, zone in [
        ("+14155550100", "America/Los_Angeles"),
        ("+33612345678", "Europe/Paris"),
        ("ann@example.com", "UTC"),
    ]:
        assert scheduled[address] == local.replace(tzinfo=ZoneInfo(zone)), address
    api.post(f"/Messages/Operations/{operation_id}/Cancel")


def test_a_local_send_at_goes_out_when_it_is_that_time_for_the_recipient(
    api: httpx.Client,
) -> None:
    in_los_angeles = datetime.now(ZoneInfo("America/Los_Angeles")) + timedelta(seconds=2)
    local = in_los_angeles.replace(tzinfo=None, microsecond=0)
    to = [
        {"address": "+14155550101", "channel": "PHONE"},
        {"address": "bob@example.com", "channel": "EMAIL"},  # in UTC: hours ago, so now
    ]
    operation_id = send(
        api, {"to": to, "content": {"text": "Now"}, "schedule": {"sendAt": [local.isoformat()]}}
    )

    wait_completed(api, operation_id)
    wait_stats(api, operation_id, read=1, delivered=1)  # a READ receipt may follow COMPLETED

    assert datetime.now(UTC) >= local.replace(tzinfo=ZoneInfo("America/Los_Angeles"))
    statuses = {
        m["to"][0]["address"]: m["status"] for m in all_messages(api, operationId=operation_id)
    }
    assert statuses == {"+14155550101": "READ", "bob@example.com": "DELIVERED"}
