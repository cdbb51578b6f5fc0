"""`submit` against a real HTTP server on 127.0.0.1 (pytest-httpserver) standing in for
the Graph API: what each answer makes of the attempt, pacing, and answers lost in flight.
The connector contract (tests/connectors/contract/whatsapp_cases.py) runs the same
connector against the WhatsApp test peer."""

from __future__ import annotations

import asyncio
import json
import logging
import time
from collections.abc import AsyncIterator, Callable
from typing import Any

import msgspec
import pytest
from pytest_httpserver import HTTPServer
from werkzeug import Request, Response

from opencomms.connectors.base import Submission, SubmitOutcome, SubmitResult
from opencomms.connectors.whatsapp import WhatsAppConfig, WhatsAppConnector
from opencomms.connectors.whatsapp.connector import IDLE_CONNECTION_S

TOKEN = "EAAG-token-4c1e9"
NUMBER_ID = "106540352242922"
PATH = f"/v21.0/{NUMBER_ID}/messages"
SUBMISSION = Submission(
    attempt_id="SM" + "c3" * 16,
    message_id="comms_message_x",
    operation_id="comms_operation_x",
    account_sid="AC" + "0" * 32,
    channel="WHATSAPP",
    from_address="+15550783881",
    to_address="+16505551234",
    content={"text": "Hello"},
)
ACCEPTED, REJECTED, THROTTLED = SubmitOutcome

Start = Callable[..., Any]


@pytest.fixture
async def start(httpserver: HTTPServer) -> AsyncIterator[Start]:
    connectors: list[WhatsAppConnector] = []

    async def started(**settings: Any) -> WhatsAppConnector:
        config = WhatsAppConfig(
            phone_number_id=NUMBER_ID,
            access_token=TOKEN,
            app_secret="app-secret-77ab",
            base_url=httpserver.url_for("/v21.0"),
            **settings,
        )
        connector = WhatsAppConnector("wa", config)
        await connector.start(lambda _: asyncio.Future(), lambda _: asyncio.Future())
        connectors.append(connector)
        return connector

    yield started
    for connector in connectors:
        await connector.close()


def graph_error(code: int, status: int = 400, **headers: str) -> Response:
    body = {"error": {"message": f"(#{code}) title", "type": "OAuthException", "code": code,
                      "error_data": {"messaging_product": "whatsapp", "details": "why"},
                      "fbtrace_id": "Axyz"}}  # fmt: skip
    return Response(json.dumps(body), status, headers, content_type="application/json")


def sent(wamid: str = "wamid.ABC") -> dict[str, Any]:
    return {"messaging_product": "whatsapp", "contacts": [{"input": "16505551234",
            "wa_id": "16505551234"}], "messages": [{"id": wamid}]}  # fmt: skip


def numbered(count: int) -> list[Submission]:
    return [
        msgspec.structs.replace(SUBMISSION, attempt_id=f"SM{n:032x}", to_address=f"+1650555{n:04d}")
        for n in range(count)
    ]


async def test_a_send_posts_the_message_with_the_bearer_token_and_takes_the_wamid(
    start: Start, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(
        PATH, method="POST", headers={"Authorization": f"Bearer {TOKEN}"}
    ).respond_with_json(sent("wamid.HBgL1"))
    connector = await start()
    answered: list[SubmitResult] = []
    results = await connector.submit([SUBMISSION], answered.append)
    assert results == answered == [SubmitResult(SUBMISSION.attempt_id, ACCEPTED, "wamid.HBgL1")]
    request, _ = httpserver.log[0]
    assert request.json == {
        "messaging_product": "whatsapp", "recipient_type": "individual", "to": "16505551234",
        "biz_opaque_callback_data": SUBMISSION.attempt_id, "type": "text",
        "text": {"body": "Hello", "preview_url": False},
    }  # fmt: skip
    assert await connector.was_submitted([SUBMISSION.attempt_id]) == {SUBMISSION.attempt_id: True}


@pytest.mark.parametrize(
    ("code", "twilio_code"), [(131026, 63024), (131047, 63016), (100, 63021), (132001, 63027)]
)
async def test_a_permanent_refusal_fails_the_attempt_with_its_code(
    start: Start, httpserver: HTTPServer, code: int, twilio_code: int
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_response(graph_error(code))
    connector = await start()
    [result] = await connector.submit([SUBMISSION])
    assert (result.outcome, result.error_code) == (REJECTED, twilio_code)
    assert result.error_message == f"WhatsApp error {code}: (#{code}) title (why)"
    assert await connector.was_submitted([SUBMISSION.attempt_id]) == {SUBMISSION.attempt_id: False}


async def test_content_it_cannot_send_fails_without_a_request(
    start: Start, httpserver: HTTPServer
) -> None:
    connector = await start()
    bad = msgspec.structs.replace(SUBMISSION, content={"text": ""})
    [result] = await connector.submit([bad])
    assert (result.outcome, result.error_code) == (REJECTED, 63021)
    assert httpserver.log == []


async def test_the_throughput_limit_pauses_the_number(start: Start, httpserver: HTTPServer) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_response(graph_error(130429))
    connector = await start()
    [first] = await connector.submit([SUBMISSION])
    assert first == SubmitResult(SUBMISSION.attempt_id, THROTTLED, retry_after_ms=1000)
    [second] = await connector.submit(numbered(1))
    assert second.outcome is THROTTLED and 0 < second.retry_after_ms <= 1000
    assert len(httpserver.log) == 1  # the second was not even sent


async def test_the_pair_rate_limit_holds_back_that_recipient_only(
    start: Start, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_response(graph_error(131056))
    httpserver.expect_oneshot_request(PATH).respond_with_json(sent())
    connector = await start()
    [first] = await connector.submit([SUBMISSION])
    assert first == SubmitResult(SUBMISSION.attempt_id, THROTTLED, retry_after_ms=6000)
    [second] = await connector.submit(numbered(1))
    assert second.outcome is ACCEPTED


async def test_a_server_error_is_retried_after_its_retry_after(
    start: Start, httpserver: HTTPServer
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_data("busy", 503, {"Retry-After": "3"})
    connector = await start()
    [result] = await connector.submit([SUBMISSION])
    assert result == SubmitResult(SUBMISSION.attempt_id, THROTTLED, retry_after_ms=3000)


async def test_an_expired_token_waits_for_the_operator_and_says_so(
    start: Start, httpserver: HTTPServer, caplog: pytest.LogCaptureFixture
) -> None:
    httpserver.expect_oneshot_request(PATH).respond_with_response(graph_error(190, 401))
    connector = await start()
    with caplog.at_level(logging.DEBUG):
        [result] = await connector.submit([SUBMISSION])
    assert result == SubmitResult(SUBMISSION.attempt_id, THROTTLED, retry_after_ms=60_000)
    errors = [r.getMessage() for r in caplog.records if r.levelno == logging.ERROR]
    assert errors and "access token" in errors[0]
    assert not any(TOKEN in r.getMessage() for r in caplog.records)


async def test_an_unreachable_api_throttles_and_the_attempt_is_surely_not_sent(
    start: Start, httpserver: HTTPServer
) -> None:
    connector = await start()
    httpserver.stop()  # nothing listens on the port any more
    [result] = await connector.submit([SUBMISSION])
    assert result.outcome is THROTTLED
    assert await connector.was_submitted([SUBMISSION.attempt_id]) == {SUBMISSION.attempt_id: False}
    httpserver.start()


async def test_an_answer_lost_in_flight_is_left_in_doubt_and_not_sent_again(
    start: Start, httpserver: HTTPServer
) -> None:
    def slow(_: Request) -> Response:
        time.sleep(0.6)
        return Response(json.dumps(sent()), 200, content_type="application/json")

    httpserver.expect_oneshot_request(PATH).respond_with_handler(slow)
    connector = await start(request_timeout="200ms")
    assert await connector.submit([SUBMISSION]) == []
    assert await connector.was_submitted([SUBMISSION.attempt_id]) == {SUBMISSION.attempt_id: None}
    assert await connector.was_submitted(["SM-never-seen"]) == {"SM-never-seen": None}


async def test_sends_are_paced_at_the_numbers_throughput(
    start: Start, httpserver: HTTPServer
) -> None:
    httpserver.expect_request(PATH).respond_with_json(sent())
    connector = await start(throughput=20)
    began = time.monotonic()
    results = await connector.submit(numbered(11))
    elapsed = time.monotonic() - began
    assert [r.outcome for r in results] == [ACCEPTED] * 11
    assert elapsed >= 0.45  # ten gaps of 1/20 s


class ClosingIdleServer:
    """An HTTP/1.1 server on 127.0.0.1 that answers every send with a wamid, but closes,
    unanswered, a kept-alive connection that was idle `idle_s` or longer when a request
    comes on it: a server's idle timeout that runs out just as the client reuses it."""

    def __init__(self, idle_s: float) -> None:
        self.idle_s = idle_s
        self.answered = 0
        self.closed_unanswered = 0

    async def serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        loop = asyncio.get_running_loop()
        last = loop.time()
        try:
            while head := await reader.readuntil(b"\r\n\r\n"):
                length = next(
                    int(line.split(b":")[1])
                    for line in head.lower().split(b"\r\n")
                    if line.startswith(b"content-length:")
                )
                await reader.readexactly(length)
                if loop.time() - last >= self.idle_s:
                    self.closed_unanswered += 1
                    return
                body = json.dumps(sent()).encode()
                writer.write(
                    b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n"
                    + f"Content-Length: {len(body)}\r\n\r\n".encode()
                    + body
                )
                await writer.drain()
                self.answered += 1
                last = loop.time()
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        finally:
            writer.close()


async def test_a_connection_idle_near_the_servers_timeout_is_not_reused() -> None:
    """A send written on a connection the server is closing gets no answer and is left in
    doubt (it waits out the fallback timeout): the connector lets a connection go after
    IDLE_CONNECTION_S, under the servers' usual idle timeouts (uvicorn's 5 s)."""
    server = ClosingIdleServer(idle_s=IDLE_CONNECTION_S + 0.5)
    listening = await asyncio.start_server(server.serve, "127.0.0.1", 0)
    port = listening.sockets[0].getsockname()[1]
    config = WhatsAppConfig(
        phone_number_id=NUMBER_ID,
        access_token=TOKEN,
        app_secret="app-secret-77ab",
        base_url=f"http://127.0.0.1:{port}/v21.0",
    )
    connector = WhatsAppConnector("wa", config)
    await connector.start(lambda _: asyncio.Future(), lambda _: asyncio.Future())
    try:
        [first] = await connector.submit([SUBMISSION])
        await asyncio.sleep(IDLE_CONNECTION_S + 1.0)
        second = msgspec.structs.replace(SUBMISSION, attempt_id="SM" + "d4" * 16)
        [again] = await connector.submit([second])
    finally:
        await connector.close()
        listening.close()
    assert (first.outcome, again.outcome) == (ACCEPTED, ACCEPTED)
    assert (server.answered, server.closed_unanswered) == (2, 0)
