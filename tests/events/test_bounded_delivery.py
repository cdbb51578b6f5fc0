"""A delivery is bounded: an endless body is dropped after a small limit, and a receiver
that trickles or never answers holds a delivery for `[sinks] delivery_timeout` (2 s on
the limited server), not for ever. Real receivers on real sockets, on both engines."""

from __future__ import annotations

from typing import Any

import httpx

from tests.events.helpers import make_sink
from tests.support.polling import send, wait_until
from tests.support.receivers import RawReceiver, endless_body, no_answer, trickle

PROCESSING = "com.twilio.comms-api.operation.processing"
MiB = 1024 * 1024
PER_STEP_TIMEOUT_MS = 15_000  # [events] timeout: each read alone would wait this long


def first_delivery(api: httpx.Client, receiver: RawReceiver) -> dict[str, Any]:
    """Make a sink for `receiver`, send once, and return the sink's first delivery."""
    sink = make_sink(api, receiver.url, [PROCESSING])
    send(api, {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}})
    url = f"/Sinks/{sink['id']}/Deliveries"
    deliveries = wait_until(lambda: api.get(url).json()["deliveries"], timeout=60)
    first: dict[str, Any] = deliveries[-1]
    return first


def test_an_endless_body_is_dropped_after_the_limit(limited_api: httpx.Client) -> None:
    with RawReceiver(endless_body(cap_bytes=256 * MiB)) as receiver:
        delivery = first_delivery(limited_api, receiver)

        connection = receiver.connections[0]
        assert connection.done.wait(30)

    assert (delivery["outcome"], delivery["responseCode"]) == ("DELIVERED", 200)
    assert connection.hung_up
    # 64 KiB read, plus what the two sockets' buffers held when opencomms hung up
    assert connection.sent < 32 * MiB


def test_headers_trickled_a_byte_at_a_time_fail_at_the_delivery_timeout(
    limited_api: httpx.Client,
) -> None:
    head = b"HTTP/1.1 200 OK\r\nX-Padding: " + b"x" * 200 + b"\r\nContent-Length: 0\r\n\r\n"
    with RawReceiver(trickle(b"", every_s=0.2, then=head)) as receiver:
        delivery = first_delivery(limited_api, receiver)

        assert receiver.connections[0].done.wait(10)
        hung_up = receiver.connections[0].hung_up

    assert delivery["outcome"] == "FAILED"
    assert delivery["responseCode"] is None
    assert delivery["error"].startswith("DeliveryTimeout")
    assert delivery["durationMs"] < PER_STEP_TIMEOUT_MS
    assert hung_up


def test_a_body_trickled_after_a_2xx_is_delivered_and_cut_off(limited_api: httpx.Client) -> None:
    head = b"HTTP/1.1 200 OK\r\nContent-Length: 100000\r\n\r\n"
    with RawReceiver(trickle(head, every_s=0.2, then=b"x" * 100_000)) as receiver:
        delivery = first_delivery(limited_api, receiver)

        assert receiver.connections[0].done.wait(10)
        hung_up = receiver.connections[0].hung_up

    assert (delivery["outcome"], delivery["responseCode"]) == ("DELIVERED", 200)
    assert delivery["durationMs"] < PER_STEP_TIMEOUT_MS
    assert hung_up


def test_a_receiver_that_never_answers_fails_at_the_delivery_timeout(
    limited_api: httpx.Client,
) -> None:
    with RawReceiver(no_answer) as receiver:
        delivery = first_delivery(limited_api, receiver)

        assert receiver.connections[0].done.wait(10)
        hung_up = receiver.connections[0].hung_up

    assert delivery["outcome"] == "FAILED"
    assert delivery["error"].startswith("DeliveryTimeout")
    assert delivery["durationMs"] < PER_STEP_TIMEOUT_MS
    assert hung_up
