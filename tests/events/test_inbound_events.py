"""A recipient's reply reaches the account's sink as an inbound-received event."""

from __future__ import annotations

import random

import httpx
from pytest_httpserver import HTTPServer

from tests.events.helpers import make_sink, wait_for_events
from tests.support.polling import send, wait_completed

INBOUND = "com.twilio.comms-api.message.inbound-received"


def test_a_stop_reply_arrives_as_an_inbound_received_event(
    api: httpx.Client, httpserver: HTTPServer
) -> None:
    httpserver.expect_request("/hook", method="POST").respond_with_data("ok")
    make_sink(api, httpserver.url_for("/hook"), types=[INBOUND])
    writer = f"+1415{random.randrange(10**6):06d}0009"  # answers STOP (SIMULATOR.md)

    operation_id = send(
        api, {"to": [{"address": writer, "channel": "PHONE"}], "content": {"text": "Hi"}}
    )
    wait_completed(api, operation_id)

    (event,) = wait_for_events(httpserver, 1)
    assert event["type"] == INBOUND
    data = event["data"]
    assert data["message_id"].startswith("comms_inbound_")
    assert event["dataschema"] == "https://events-schemas.twilio.com/CommsApi.MessageInbound/2"
    ours = data["opencomms"]
    assert (ours["from"]["address"], ours["body"], ours["keyword"]) == (writer, "STOP", "STOP")
    assert data["to"]["address"] == "opencomms_rcs_agent"  # the sender that delivered
