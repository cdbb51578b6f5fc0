"""A sink's test event (`POST /events/v1/Sinks/{sid}/Test`): one CloudEvent carrying a
`test_id`, posted at once, signed as every delivery is, through the same SSRF guard and
bounds. It is not an outbox event: it is not retried, replayed, or logged in the sink's
deliveries; the caller sees the receiver's answer in the reply."""

from __future__ import annotations

import secrets
from typing import Any

import httpx
from litestar import Request

from opencomms.api.common import runtime_of
from opencomms.domain.clock import now_ms
from opencomms.domain.durations import parse_duration_ms
from opencomms.events.cloudevents import encode_batch, envelope
from opencomms.events.posting import PostLimits, post_bounded
from opencomms.events.signing import delivery_message_id, signed_headers
from opencomms.events.ssrf import GuardedTransport
from opencomms.store import accounts
from opencomms.store.sinks import SinkRecord

__all__ = ["TEST_EVENT_SCHEMA", "TEST_EVENT_TYPE", "send_test_event"]

AnyRequest = Request[Any, Any, Any]
# Twilio does not publish the type of its test event: this one is ours, and says so
TEST_EVENT_TYPE = "opencomms.sink.test"
TEST_EVENT_SCHEMA = "urn:opencomms:schema:SinkTest/1"


async def send_test_event(request: AnyRequest, sink: SinkRecord) -> dict[str, Any]:
    """Post the test event to `sink`: `{test_id, status_code, error}` of that one try."""
    runtime = runtime_of(request)
    found = await runtime.db.read(lambda conn: accounts.signing_secrets(conn, sink.account_sid))
    assert found is not None  # the caller's own account
    token = runtime.sealer.unseal(found.auth_token_sealed)
    sealed = sink.secret_sealed or found.webhook_secret_sealed  # callback sinks: the account's
    test_id = "TE" + secrets.token_hex(16)
    event_id = "EV" + secrets.token_hex(16)
    body = encode_batch(
        [
            envelope(
                event_id,
                TEST_EVENT_TYPE,
                now_ms(),
                {"test_id": test_id, "sink_sid": sink.id},
                f"/v1/Sinks/{sink.id}",
                TEST_EVENT_SCHEMA,
            )
        ]
    )
    signed = signed_headers(
        sink.url,
        body,
        auth_token=token,
        webhook_secret=runtime.sealer.unseal(sealed),
        message_id=delivery_message_id([event_id]),
    )
    settings = runtime.settings.sinks
    total_ms = parse_duration_ms(settings.delivery_timeout) or 15_000
    limits = PostLimits(total_ms / 1000, settings.max_response_bytes)
    transport = GuardedTransport(runtime.callback_policy)
    async with httpx.AsyncClient(transport=transport, follow_redirects=False) as client:
        result = await post_bounded(client, signed.url, body, signed.headers, limits)
    return {"test_id": test_id, "status_code": result.status_code, "error": result.error}
