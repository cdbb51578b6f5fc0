"""A recipient whose rendered data cannot be stored fails alone (30098); its chunk is
stored and the operation completes, on both engines.

A template can make a NUL out of storable input (`{{ code | url_decode }}` with the
variable `%00`); PostgreSQL refuses it in a text column, and before this check the
whole 1,000-recipient chunk failed at each retry, so the operation never completed.
"""

from __future__ import annotations

import httpx

from tests.support.polling import all_messages, send, wait_completed

BAD = 7


def test_one_unstorable_recipient_fails_alone_and_the_operation_completes(
    api: httpx.Client,
) -> None:
    to = [
        {
            "address": f"+1415555{index + 100:04d}",
            "channel": "PHONE",
            "variables": {"code": "%00" if index == BAD else f"c{index}"},
        }
        for index in range(20)
    ]
    operation_id = send(
        api,
        {"to": to, "content": {"text": "Your code"}, "tags": {"code": "{{ code | url_decode }}"}},
    )

    stats = wait_completed(api, operation_id)["stats"]
    messages = {m["to"][0]["address"]: m for m in all_messages(api, operationId=operation_id)}

    assert stats["total"] == 20
    assert stats["failed"] == 1
    assert stats["delivered"] + stats["read"] == 19  # RCS, the pool's first channel, is read
    failed = messages[f"+1415555{BAD + 100:04d}"]
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == 30098
    assert failed["tags"] == {}
    assert api.get(f"/Messages/{failed['id']}").json()["attempts"] == []
    others = [m for address, m in messages.items() if address != f"+1415555{BAD + 100:04d}"]
    assert {m["status"] for m in others} <= {"DELIVERED", "READ"}
    assert {m["tags"]["code"] for m in others} == {f"c{i}" for i in range(20) if i != BAD}
