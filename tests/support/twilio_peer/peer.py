"""The Twilio Messaging peer: a raw ASGI app served by uvicorn on 127.0.0.1 in a thread
of its own, with the scripts a test steers and the records it reads.

The package docstring (tests/support/twilio_peer/__init__.py) is the user's guide.
"""

from __future__ import annotations

import asyncio
import base64
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qsl

import uvicorn

from tests.support.twilio_peer.api import ApiError, Outgoing, message_resource, new_sid, validate
from tests.support.twilio_peer.callbacks import Callback, Poster, sign, status_form

__all__ = ["Accepted", "Send", "Step", "TwilioPeer"]

MESSAGES = re.compile(r"^/2010-04-01/Accounts/([^/]+)/Messages\.json$")
Scope = dict[str, Any]
Receive = Callable[[], Awaitable[dict[str, Any]]]
Send_ = Callable[[dict[str, Any]], Awaitable[None]]


@dataclass(frozen=True)
class Step:
    """One status callback: its status, posted `delay_s` after the previous one was
    answered (or after the 201), with `error_code` on undelivered and failed."""

    status: str
    delay_s: float = 0.0
    error_code: int | None = None


StepLike = str | Step


def steps(*items: StepLike) -> tuple[Step, ...]:
    return tuple(item if isinstance(item, Step) else Step(item) for item in items)


@dataclass
class Send:
    """One authenticated POST to Messages.json and how the peer answered it."""

    at: float
    to: str | None
    status_callback: str | None
    status_code: int
    error_code: int | None = None
    sid: str | None = None


@dataclass
class Accepted:
    sid: str
    outgoing: Outgoing
    at: float
    steps: tuple[Step, ...]

    @property
    def attempt(self) -> str | None:
        """The `attempt` query parameter of its StatusCallback, if any."""
        url = self.outgoing.status_callback or ""
        query = dict(parse_qsl(url.partition("?")[2]))
        return query.get("attempt")


class TwilioPeer:
    """See the package docstring. Use as a context manager (or start()/stop())."""

    def __init__(
        self,
        *,
        account_sid: str = "AC" + "a1" * 16,
        auth_token: str = "peer-auth-token-0f3",
        api_keys: dict[str, str] | None = None,
        messaging_service_sids: tuple[str, ...] = (),
        statuses: tuple[StepLike, ...] = ("sent", "delivered"),
        callback_concurrency: int = 32,
        callback_timeout_s: float = 15.0,
    ) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.api_keys = dict(api_keys or {})
        self.services = frozenset(messaging_service_sids)
        self.default_steps = steps(*statuses)
        self._scripts_by_number: dict[str, deque[tuple[str, Any]]] = {}
        self._steps_by_number: dict[str, tuple[Step, ...]] = {}
        self._lock = threading.Lock()
        self._poster = Poster(callback_concurrency, callback_timeout_s)
        self._waiting = 0  # callbacks planned and not yet answered
        self.reset()
        self._listen()

    def reset(self) -> None:
        """Forget records and scripts."""
        with self._lock:
            self.sends: list[Send] = []
            self.accepted: list[Accepted] = []
            self.by_sid: dict[str, Accepted] = {}
            self.callbacks: list[Callback] = []
            self.accepted_by_attempt: Counter[str] = Counter()
            self.posted_by_attempt: Counter[str] = Counter()
            self._scripts_by_number.clear()
            self._steps_by_number.clear()

    # -- scripts -----------------------------------------------------------------------

    def refuse(self, number: str, code: int, times: int = 1, retry_after: str = "") -> None:
        """The next `times` sends to `number` are refused with `code` (ERRORS' status)."""
        queue = self._scripts_by_number.setdefault(_bare(number), deque())
        queue.extend([("refuse", (code, retry_after))] * times)

    def statuses(self, number: str, *items: StepLike) -> None:
        """The callbacks of every message accepted for `number`, in this order."""
        self._steps_by_number[_bare(number)] = steps(*items)

    # -- lifecycle ---------------------------------------------------------------------

    def _listen(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.port: int = self._socket.getsockname()[1]
        self.base_url = f"http://127.0.0.1:{self.port}"
        self._loop: asyncio.AbstractEventLoop | None = None
        config = uvicorn.Config(self._app, log_level="warning", lifespan="off", interface="asgi3")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._serve, name="twilio peer", daemon=True)

    def start(self) -> TwilioPeer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the twilio peer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> TwilioPeer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._socket]))
            self._loop.run_until_complete(self._poster.close())
        finally:
            self._loop.close()

    # -- records -----------------------------------------------------------------------

    def unsettled(self) -> int:
        """Callbacks still to come or unanswered."""
        return self._waiting

    def wait_settled(self, timeout: float = 30) -> None:
        deadline = time.monotonic() + timeout
        while self._waiting:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self._waiting} callbacks still to come")
            time.sleep(0.01)

    async def settled(self, within_s: float = 30) -> None:
        deadline = time.monotonic() + within_s
        while self._waiting:
            if time.monotonic() > deadline:
                raise AssertionError(f"{self._waiting} callbacks still to come")
            await asyncio.sleep(0.01)

    def accepted_twice(self) -> dict[str, int]:
        """Each attempt (StatusCallback `attempt`) accepted more than once, with its count."""
        return {key: n for key, n in self.accepted_by_attempt.items() if n > 1}

    # -- pushing callbacks -------------------------------------------------------------

    def push(
        self, url: str, form: list[tuple[str, str]], *, token: str | None = None,
        signature: str | None = None,
    ) -> Callback:  # fmt: skip
        """Post `form` to `url` signed with `token` (default: the auth token), or with
        this exact `signature` ("" for none); wait on the returned Callback's `done`."""
        header = signature if signature is not None else sign(token or self.auth_token, url, form)
        fields = dict(form)
        callback = Callback(fields.get("MessageSid", ""), fields.get("MessageStatus", ""),
                            url, form, header)  # fmt: skip
        with self._lock:
            self.callbacks.append(callback)
        assert self._loop is not None, "the peer is not started"
        asyncio.run_coroutine_threadsafe(self._poster.post(callback), self._loop)
        return callback

    def push_status(self, sid: str, status: str, error_code: int | None = None) -> Callback:
        """A status callback of an accepted message, signed, to its StatusCallback."""
        accepted = self.by_sid[sid]
        assert accepted.outgoing.status_callback, "the message has no StatusCallback"
        return self.push(
            accepted.outgoing.status_callback, self._form(accepted, Step(status, 0, error_code))
        )

    def push_incoming(self, url: str, from_: str, to: str, body: str) -> Callback:
        """A recipient writes `body` from `from_` to our `to`: an incoming-message webhook."""
        sid = "SM" + secrets.token_hex(16)
        form = [
            ("AccountSid", self.account_sid), ("ApiVersion", "2010-04-01"), ("Body", body),
            ("From", from_), ("MessageSid", sid), ("NumMedia", "0"), ("NumSegments", "1"),
            ("SmsMessageSid", sid), ("SmsSid", sid), ("SmsStatus", "received"), ("To", to),
        ]  # fmt: skip
        return self.push(url, form)

    def _form(self, accepted: Accepted, step: Step) -> list[tuple[str, str]]:
        out = accepted.outgoing
        return status_form(self.account_sid, accepted.sid, step.status, out.to, out.from_,
                           out.messaging_service_sid, step.error_code)  # fmt: skip

    # -- the REST endpoint -------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send_) -> None:
        if scope["type"] != "http":
            return
        body = b""
        while True:
            message = await receive()
            body += message.get("body", b"")
            if not message.get("more_body"):
                break
        try:
            status, payload, headers = self._handle(scope, body)
        except ApiError as error:
            status, payload = error.status, error.body()
            headers = getattr(error, "headers", [])
        raw = json.dumps(payload).encode()
        headers = [(b"content-type", b"application/json"), *headers]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": raw})

    def _handle(self, scope: Scope, body: bytes) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        path = scope["path"]
        match = MESSAGES.match(path)
        self._authorize(dict(scope["headers"]).get(b"authorization", b""))
        if match is None or scope["method"] != "POST" or match.group(1) != self.account_sid:
            raise ApiError(20404, path=path)
        form = parse_qsl(body.decode("utf-8", "replace"), keep_blank_values=True)
        try:
            outgoing = validate(form, self.services)
        except ApiError as error:
            self._keep(Send(time.time(), dict(form).get("To"), dict(form).get("StatusCallback"),
                            error.status, error.code))  # fmt: skip
            raise
        return self._admit(outgoing)

    def _authorize(self, header: bytes) -> None:
        scheme, _, encoded = header.decode("latin-1").partition(" ")
        try:
            user, _, password = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            raise ApiError(20003) from None
        expected = self.auth_token if user == self.account_sid else self.api_keys.get(user)
        if scheme.lower() != "basic" or expected is None:
            raise ApiError(20003)
        if not secrets.compare_digest(password.encode(), expected.encode()):
            raise ApiError(20003)

    def _admit(self, outgoing: Outgoing) -> tuple[int, Any, list[tuple[bytes, bytes]]]:
        script = self._scripts_by_number.get(outgoing.number)
        if script:
            _, (code, retry_after) = script.popleft()
            self._keep(Send(time.time(), outgoing.to, outgoing.status_callback, 0, code))
            error = ApiError(code, to=outgoing.to, from_=outgoing.from_ or "")
            self.sends[-1].status_code = error.status
            if retry_after:
                raise _WithHeaders(error, [(b"retry-after", retry_after.encode())])
            raise error
        planned = self._steps_by_number.get(outgoing.number, self.default_steps)
        accepted = Accepted(self._new_sid(outgoing), outgoing, time.time(), planned)
        with self._lock:
            self.accepted.append(accepted)
            self.by_sid[accepted.sid] = accepted
            if accepted.attempt:
                self.accepted_by_attempt[accepted.attempt] += 1
        self._keep(Send(time.time(), outgoing.to, outgoing.status_callback, 201, sid=accepted.sid))
        if outgoing.status_callback and accepted.steps:
            self._waiting += len(accepted.steps)
            asyncio.get_running_loop().create_task(self._callbacks(accepted))
        status = "accepted" if outgoing.messaging_service_sid else "queued"
        segments = max(1, -(-len(outgoing.body) // 153)) if len(outgoing.body) > 160 else 1
        return 201, message_resource(self.account_sid, accepted.sid, outgoing, status, segments), []

    async def _callbacks(self, accepted: Accepted) -> None:
        """Each step in turn: after its delay, posted, and its answer awaited."""
        url = accepted.outgoing.status_callback
        assert url is not None
        for step in accepted.steps:
            if step.delay_s > 0:
                await asyncio.sleep(step.delay_s)
            form = self._form(accepted, step)
            callback = Callback(
                accepted.sid, step.status, url, form, sign(self.auth_token, url, form)
            )
            with self._lock:
                self.callbacks.append(callback)
            try:
                await self._poster.post(callback)
            finally:
                self._waiting -= 1

    def _new_sid(self, outgoing: Outgoing) -> str:
        """SM…, or MM… for a message with media."""
        return new_sid(bool(outgoing.media))

    def _keep(self, send: Send) -> None:
        with self._lock:
            self.sends.append(send)
            attempt = dict(parse_qsl((send.status_callback or "").partition("?")[2])).get("attempt")
            if attempt:
                self.posted_by_attempt[attempt] += 1


class _WithHeaders(ApiError):
    """An ApiError whose answer carries headers (Retry-After)."""

    def __init__(self, error: ApiError, headers: list[tuple[bytes, bytes]]) -> None:
        self.__dict__.update(error.__dict__)
        self.headers = headers


def _bare(number: str) -> str:
    return number.removeprefix("whatsapp:")
