"""A recipient whose rendered data cannot be stored fails alone (30098); its chunk is
stored and the operation completes, on both engines.

A template can make unstorable data out of accepted input: a NUL (`{{ code |
url_decode }}` with the variable `%00`), which PostgreSQL's text refuses, or a tag value
too long for its index (over 256 characters; PostgreSQL's b-tree refuses an entry of
about 2.7 kB once compressed). Before this check, the whole 1,000-recipient chunk
failed at each retry, so the operation never completed.
"""

from __future__ import annotations

import httpx
import pytest

from tests.support.polling import all_messages, send, wait_completed

BAD = 7
# 1,000 characters that do not compress: three of them make a 9 kB tag
UNCOMPRESSIBLE = "".join(chr(0x4E00 + (n * 7_919) % 20_000) for n in range(1_000))


@pytest.mark.parametrize(
    ("code", "tag", "reason"),
    [
        ("%00", "{{ code | url_decode }}", "its tag code holds a NUL character"),
        (UNCOMPRESSIBLE, "{{ code }}{{ code }}{{ code }}", "its tag code is over 256 characters"),
    ],
    ids=["nul", "long"],
)
def test_one_unstorable_recipient_fails_alone_and_the_operation_completes(
    api: httpx.Client, code: str, tag: str, reason: str
) -> None:
    to = [
        {
            "address": f"+1415555{index + 100:04d}",
            "channel": "PHONE",
            "variables": {"code": code if index == BAD else f"c{index}"},
        }
        for index in range(20)
    ]
    operation_id = send(api, {"to": to, "content": {"text": "Your code"}, "tags": {"code": tag}})

    stats = wait_completed(api, operation_id)["stats"]
    messages = {m["to"][0]["address"]: m for m in all_messages(api, operationId=operation_id)}

    assert stats["total"] == 20
    assert stats["failed"] == 1
    assert stats["delivered"] + stats["read"] == 19  # RCS, the pool's first channel, is read
    failed = messages.pop(f"+1415555{BAD + 100:04d}")
    assert failed["status"] == "FAILED"
    assert failed["error"]["code"] == 30098
    assert reason in failed["error"]["message"]
    assert failed["tags"] == {}
    assert api.get(f"/Messages/{failed['id']}").json()["attempts"] == []
    assert {m["status"] for m in messages.values()} <= {"DELIVERED", "READ"}
    expected = {f"c{i}" * (3 if "}}{{" in tag else 1) for i in range(20) if i != BAD}
    assert {m["tags"]["code"] for m in messages.values()} == expected
