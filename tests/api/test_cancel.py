"""Cancel: operations and Messages not yet handed to a channel, never both canceled and sent."""

from __future__ import annotations

import json
import random
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest

from tests.support.polling import (
    all_messages,
    assert_stats_consistent,
    operation,
    send,
    wait_completed,
    wait_until,
)
from tests.support.server import ThreadServer


def recipients(count: int, first: int = 100) -> list[dict[str, str]]:
    return [
        {"address": f"+1415555{n:04d}", "channel": "PHONE"} for n in range(first, first + count)
    ]


def later(seconds: int = 600) -> dict[str, list[str]]:
    moment = datetime.now(UTC) + timedelta(seconds=seconds)
    return {"sendAt": [moment.isoformat().replace("+00:00", "Z")]}


def fanned_out(api: httpx.Client, operation_id: str, total: int) -> dict[str, object]:
    body: dict[str, object] = wait_until(
        lambda: (o := operation(api, operation_id))["stats"]["total"] == total and o
    )
    return body


def test_canceling_a_scheduled_operation_cancels_every_message(api: httpx.Client) -> None:
    operation_id = send(api, {"to": recipients(5), "content": {"text": "Hi"}, "schedule": later()})
    fanned_out(api, operation_id, 5)

    response = api.post(f"/Messages/Operations/{operation_id}/Cancel")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "CANCELED"
    assert body["stats"]["canceled"] == 5
    assert body["stats"]["scheduled"] == 0
    assert_stats_consistent(body["stats"])
    assert {m["status"] for m in all_messages(api, operationId=operation_id)} == {"CANCELED"}
    again = api.post(f"/Messages/Operations/{operation_id}/Cancel")
    assert (again.status_code, again.json()["stats"]["canceled"]) == (200, 5)


def test_a_completed_operation_cannot_be_canceled(api: httpx.Client) -> None:
    operation_id = send(api, {"to": recipients(2), "content": {"text": "Hi"}})
    wait_completed(api, operation_id)

    response = api.post(f"/Messages/Operations/{operation_id}/Cancel")

    assert response.status_code == 409
    assert response.json()["code"] == 20409
    assert operation(api, operation_id)["status"] == "COMPLETED"


def test_one_message_can_be_canceled_until_it_is_handed_to_a_channel(api: httpx.Client) -> None:
    scheduled = send(api, {"to": recipients(3), "content": {"text": "Hi"}, "schedule": later()})
    fanned_out(api, scheduled, 3)
    first, *others = all_messages(api, operationId=scheduled)
    sent = send(api, {"to": recipients(1, 150), "content": {"text": "Hi"}})
    wait_completed(api, sent)
    (delivered,) = all_messages(api, operationId=sent)

    canceled = api.post(f"/Messages/{first['id']}/Cancel")
    too_late = api.post(f"/Messages/{delivered['id']}/Cancel")

    assert (canceled.status_code, canceled.json()["status"]) == (200, "CANCELED")
    assert too_late.status_code == 409
    stats = operation(api, scheduled)["stats"]
    assert (stats["canceled"], stats["scheduled"]) == (1, 2)
    assert {api.get(f"/Messages/{m['id']}").json()["status"] for m in others} == {"SCHEDULED"}


def test_cancel_of_an_unknown_or_foreign_id_is_404(server: ThreadServer, api: httpx.Client) -> None:
    other = httpx.Client(base_url=server.url + "/v1", auth=server.new_account())
    operation_id = send(
        other, {"to": recipients(1), "content": {"text": "Hi"}, "schedule": later()}
    )
    fanned_out(other, operation_id, 1)
    (message,) = all_messages(other, operationId=operation_id)

    assert api.post(f"/Messages/Operations/{operation_id}/Cancel").status_code == 404
    assert api.post(f"/Messages/{message['id']}/Cancel").status_code == 404
    assert api.post("/Messages/Operations/comms_operation_nope/Cancel").status_code == 404
    assert operation(other, operation_id)["status"] == "SCHEDULED"


def accepted_messages(server: ThreadServer, operation_id: str) -> set[str]:
    """Messages of the operation that the simulator accepted (its submit log)."""
    log = Path(server.settings.simulator.submit_log)
    lines = [json.loads(line) for line in log.read_text().splitlines() if operation_id in line]
    return {line["messageId"] for line in lines if line["result"] == "ACCEPTED"}


def throttled_once(count: int) -> list[dict[str, str]]:
    """Numbers the simulator throttles on the first submit: QUEUED (cancelable) a while."""
    return [{"address": f"+1415{n:03d}0007", "channel": "PHONE"} for n in range(count)]


RACES = 150


@pytest.mark.slow
def test_cancel_raced_against_dispatch_never_cancels_a_sent_message(
    server: ThreadServer, api: httpx.Client
) -> None:
    outcomes: dict[int, int] = {}
    rng = random.Random(7)
    for _ in range(RACES):
        to = recipients(10) + throttled_once(10)
        operation_id = send(api, {"to": to, "content": {"text": "Hi"}})
        time.sleep(rng.uniform(0, 0.03))  # land the cancel anywhere from fan-out to receipts
        assert api.post(f"/Messages/Operations/{operation_id}/Cancel").status_code in (200, 409)

        final = wait_until(
            lambda op=operation_id: (
                (o := operation(api, op))["stats"]["total"] == 20
                and o["stats"]["queued"] == 0
                and o["stats"]["sent"] == 0
                and o
            )
        )

        stats = final["stats"]
        assert_stats_consistent(stats)
        messages = all_messages(api, operationId=operation_id)
        canceled = {m["id"] for m in messages if m["status"] == "CANCELED"}
        assert stats["canceled"] == len(canceled)
        accepted = accepted_messages(server, operation_id)
        assert canceled.isdisjoint(accepted), "a message was canceled and handed to a channel"
        assert {m["id"] for m in messages} - canceled == accepted
        outcomes[len(canceled)] = outcomes.get(len(canceled), 0) + 1
    # the cancels landed at different moments: before the fan-out, among throttled
    # retries, after everything was handed over
    assert len(outcomes) >= 3, outcomes
