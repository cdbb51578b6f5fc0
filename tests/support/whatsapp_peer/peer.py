"""The WhatsApp Cloud API peer: a Litestar app served by uvicorn on 127.0.0.1 in a thread
of its own, with the state, scripts and records a test steers and reads.

The package docstring (tests/support/whatsapp_peer/__init__.py) is the user's guide.
"""

from __future__ import annotations

import asyncio
import base64
import itertools
import json
import re
import secrets
import socket
import threading
import time
from collections import Counter, deque
from dataclasses import dataclass, field
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, Response, post

from tests.support.whatsapp_peer.graph import GraphError, Outgoing, Template, invalid, validate
from tests.support.whatsapp_peer.webhooks import (
    Deliverer,
    Delivery,
    encode,
    envelope,
    sign,
    status_item,
)

__all__ = ["Accepted", "Send", "Step", "WhatsAppPeer"]

VERSION = re.compile(r"^v[0-9]+\.[0-9]+$")
WINDOW_S = 24 * 3600
DEFAULT_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0)


@dataclass(frozen=True)
class Step:
    """One status webhook the peer posts for an accepted message, `delay_s` after the
    previous one was answered (or after the accept, for the first)."""

    status: str
    delay_s: float = 0.0
    error_code: int | None = None


@dataclass
class Send:
    """One authenticated POST to /messages and how the peer answered it."""

    at: float
    to: str | None
    biz_opaque_callback_data: str | None
    body: str | None
    status_code: int
    error_code: int | None = None
    wamid: str | None = None


@dataclass
class Accepted:
    """A message the peer accepted (answered 200 with a wamid), and the statuses it
    planned for it."""

    wamid: str
    to: str
    wa_id: str
    type: str
    body: str
    biz_opaque_callback_data: str | None
    payload: dict[str, Any]
    at: float
    steps: tuple[Step, ...] = ()


@dataclass
class _Script:
    refusals: deque[int] = field(default_factory=deque)
    failure: int | None = None
    failures_left: int | None = None
    steps: tuple[Step, ...] | None = None
    before_answer: bool = False


class _Bucket:
    """Throughput per business number: `rate` messages a second, bursts up to `rate`."""

    def __init__(self, rate: float) -> None:
        self.rate = rate
        self.tokens = rate
        self.at = time.monotonic()

    def take(self) -> bool:
        now = time.monotonic()
        self.tokens = min(self.rate, self.tokens + (now - self.at) * self.rate)
        self.at = now
        if self.tokens >= 1:
            self.tokens -= 1
            return True
        return False


def _steps(*steps: str | tuple[str, float] | Step) -> tuple[Step, ...]:
    out: list[Step] = []
    for step in steps:
        if isinstance(step, Step):
            out.append(step)
        elif isinstance(step, tuple):
            out.append(Step(step[0], step[1]))
        else:
            out.append(Step(step))
    return tuple(out)


class WhatsAppPeer:
    """See the package docstring. Use as a context manager (or start()/stop())."""

    def __init__(
        self,
        *,
        access_token: str = "peer-access-token",
        phone_number_id: str = "106540352242922",
        display_phone_number: str = "15550783881",
        waba_id: str = "102290129340398",
        app_secret: str = "peer-app-secret",
        verify_token: str = "peer-verify-token",
        webhook_url: str | None = None,
        throughput_per_s: float = 80,
        pair_interval_s: float | None = None,
        open_windows: bool = True,
        statuses: tuple[str | tuple[str, float] | Step, ...] = ("sent", "delivered"),
        retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S,
        webhook_concurrency: int = 16,
        webhook_timeout_s: float = 10.0,
    ) -> None:
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.webhook_url = webhook_url
        self.pair_interval_s = pair_interval_s
        self.open_windows = open_windows
        self.default_steps = _steps(*statuses)
        self.templates: dict[tuple[str, str], Template] = {}
        self.sends: list[Send] = []
        self.accepted: list[Accepted] = []
        self.by_wamid: dict[str, Accepted] = {}
        self.posted_by_callback_data: Counter[str] = Counter()
        self.accepted_by_callback_data: Counter[str] = Counter()
        self.accepted_by_body: Counter[str] = Counter()
        self._bucket = _Bucket(throughput_per_s)
        self._scripts: dict[str, _Script] = {}
        self._windows: dict[str, float | None] = {}
        self._last_accepted: dict[str, float] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._deliverer = Deliverer(
            lambda: self.webhook_url, retry_delays_s, webhook_concurrency, webhook_timeout_s
        )
        self._listen()

    # -- lifecycle ---------------------------------------------------------------------

    def _listen(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.base_url = f"{self.url}/v21.0"
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server = uvicorn.Server(
            uvicorn.Config(self._app(), log_level="warning", lifespan="off")
        )
        self._thread = threading.Thread(target=self._serve, name="whatsapp peer", daemon=True)

    def start(self) -> WhatsAppPeer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the WhatsApp peer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        self._server.should_exit = True
        self._thread.join(timeout=30)

    def __enter__(self) -> WhatsAppPeer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def _serve(self) -> None:
        self._loop = asyncio.new_event_loop()
        asyncio.set_event_loop(self._loop)
        try:
            self._loop.run_until_complete(self._server.serve(sockets=[self._socket]))
            self._loop.run_until_complete(self._deliverer.close())
        finally:
            self._loop.close()

    # -- settings and scripts ----------------------------------------------------------

    @property
    def throughput_per_s(self) -> float:
        return self._bucket.rate

    @throughput_per_s.setter
    def throughput_per_s(self, rate: float) -> None:
        self._bucket = _Bucket(rate)

    @property
    def retry_delays_s(self) -> tuple[float, ...]:
        return self._deliverer.retry_delays_s

    @retry_delays_s.setter
    def retry_delays_s(self, delays: tuple[float, ...]) -> None:
        self._deliverer.retry_delays_s = delays

    def add_template(
        self, name: str, language: str, body_params: int = 0, header_params: int = 0
    ) -> None:
        """Know an approved template; once one is known, others are refused (132001)."""
        self.templates[(name, language)] = Template(name, language, body_params, header_params)

    def refuse(self, number: str, code: int, times: int = 1) -> None:
        """Answer the next `times` sends to `number` synchronously with Graph error `code`
        (130429, 131056, 131000, ...)."""
        with self._lock:
            self._script(number).refusals.extend([code] * times)

    def fail(self, number: str, code: int = 131026, times: int | None = None) -> None:
        """Accept sends to `number`, then post only a `failed` status with `code`
        (131026 undeliverable, 131047 re-engagement, 131049, ...): for the next `times`
        messages, or all when None."""
        with self._lock:
            script = self._script(number)
            script.failure, script.failures_left = code, times

    def statuses(
        self, number: str, *steps: str | tuple[str, float] | Step, before_answer: bool = False
    ) -> None:
        """The statuses posted for messages to `number`, in this order, each `(status,
        delay_s)` after the previous one was answered: ("sent",) never delivered,
        ("sent", "read") read without delivered, ("delivered", "sent") out of order,
        ("sent", ("delivered", 2.0)) late, ("sent", "sent", "delivered") duplicated.
        With `before_answer`, the first is posted (and answered) before the send's
        HTTP answer goes out."""
        with self._lock:
            script = self._script(number)
            script.steps, script.before_answer = _steps(*steps), before_answer

    def close_window(self, number: str) -> None:
        """The user of `number` has not written in 24 h: non-template messages to it are
        accepted, then fail with 131047."""
        self._windows[_wa_id(number)] = None

    def user_wrote(self, number: str, at: float | None = None) -> None:
        """The user of `number` wrote at `at` (epoch seconds, default now): the customer
        service window runs 24 h from then."""
        self._windows[_wa_id(number)] = time.time() if at is None else at

    def _script(self, number: str) -> _Script:
        return self._scripts.setdefault(_wa_id(number), _Script())

    # -- records -----------------------------------------------------------------------

    def posted_count(self, callback_data: str) -> int:
        """How many POSTs to /messages carried this biz_opaque_callback_data (refused
        ones included)."""
        return self.posted_by_callback_data[callback_data]

    def accepted_count(self, callback_data: str) -> int:
        return self.accepted_by_callback_data[callback_data]

    def accepted_twice(self) -> dict[str, int]:
        """Each biz_opaque_callback_data accepted more than once, with its count."""
        return {key: n for key, n in self.accepted_by_callback_data.items() if n > 1}

    @property
    def deliveries(self) -> list[Delivery]:
        with self._deliverer.lock:
            return list(self._deliverer.deliveries)

    def pending(self) -> list[Delivery]:
        return self._deliverer.pending()

    def wait_settled(self, timeout: float = 30) -> None:
        """Block until every webhook is answered 200 or given up."""
        deadline = time.monotonic() + timeout
        while self.pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.pending())} webhooks still pending")
            time.sleep(0.01)

    async def settled(self, within_s: float = 30) -> None:
        """As wait_settled, from any event loop."""
        deadline = time.monotonic() + within_s
        while self.pending():
            if time.monotonic() > deadline:
                raise AssertionError(f"{len(self.pending())} webhooks still pending")
            await asyncio.sleep(0.01)

    # -- pushing webhooks --------------------------------------------------------------

    def push_user_message(
        self, number: str, text: str, *, name: str = "Test User", wamid: str | None = None
    ) -> Delivery:
        """A user writes `text` from `number`: a signed `messages` webhook (which also
        opens the user's 24-hour window)."""
        wa_id = _wa_id(number)
        self.user_wrote(wa_id)
        message = {
            "from": wa_id,
            "id": wamid or self._new_wamid(wa_id),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        contacts = [{"profile": {"name": name}, "wa_id": wa_id}]
        return self.push_payload(self._envelope(contacts=contacts, messages=[message]))

    def push_statuses(self, *statuses: tuple[str, str] | tuple[str, str, int]) -> Delivery:
        """Post these `(wamid, status[, error code])` of accepted messages in one body."""
        items = []
        for wamid, status, *code in statuses:
            accepted = self.by_wamid[wamid]
            items.append(
                status_item(
                    wamid,
                    status,
                    accepted.wa_id,
                    callback_data=accepted.biz_opaque_callback_data,
                    error_code=code[0] if code else None,
                )
            )
        return self.push_payload(self._envelope(statuses=items))

    def push_payload(
        self,
        payload: Any,
        *,
        secret: str | None = None,
        signature: str | None = None,
        retry: bool = True,
    ) -> Delivery:
        """Post `payload` (a dict, encoded as Meta does, or raw bytes) to the webhook URL,
        signed with `secret` (default: the app secret) or with this exact `signature`
        header; retried until 200 unless `retry` is False."""
        body = payload if isinstance(payload, bytes) else encode(payload)
        header = signature if signature is not None else sign(secret or self.app_secret, body)
        delivery = self._deliverer.new("payload", payload, body, header)
        delivery.retries = retry
        self._on_loop(self._deliverer.schedule, delivery)
        return delivery

    def handshake(
        self,
        *,
        verify_token: str | None = None,
        challenge: str | None = None,
        mode: str = "subscribe",
    ) -> httpx.Response:
        """The verification GET Meta sends when a webhook URL is set up; the receiver
        should answer 200 with the challenge as its body."""
        with httpx.Client(timeout=10) as client:
            return client.get(
                self._require_url(), params=self._handshake(verify_token, challenge, mode)
            )

    async def handshake_async(
        self,
        *,
        verify_token: str | None = None,
        challenge: str | None = None,
        mode: str = "subscribe",
    ) -> httpx.Response:
        async with httpx.AsyncClient(timeout=10) as client:
            return await client.get(
                self._require_url(), params=self._handshake(verify_token, challenge, mode)
            )

    def _handshake(self, token: str | None, challenge: str | None, mode: str) -> dict[str, str]:
        return {
            "hub.mode": mode,
            "hub.verify_token": token or self.verify_token,
            "hub.challenge": challenge or str(secrets.randbelow(10**9)),
        }

    def _require_url(self) -> str:
        if self.webhook_url is None:
            raise RuntimeError("the peer has no webhook_url")
        return self.webhook_url

    def _on_loop(self, function: Any, *args: Any) -> None:
        assert self._loop is not None, "the peer is not started"
        self._loop.call_soon_threadsafe(function, *args)

    def _envelope(self, **value: Any) -> dict[str, Any]:
        return envelope(self.waba_id, self.display_phone_number, self.phone_number_id, **value)

    def _new_wamid(self, wa_id: str) -> str:
        raw = f"\x15\x02\x00\x11\x18{wa_id}{next(self._ids):020X}{secrets.token_hex(4)}"
        return "wamid.HBgL" + base64.b64encode(raw.encode()).decode()

    # -- the send endpoint -------------------------------------------------------------

    def _app(self) -> Litestar:
        @post("/{version:str}/{phone_number_id:str}/messages", status_code=200)
        async def send(request: Request[Any, Any, Any]) -> Response[bytes]:
            path = request.path_params
            try:
                return await self._send(request, path["version"], path["phone_number_id"])
            except GraphError as error:
                return Response(
                    encode(error.body()), status_code=error.status, media_type="application/json"
                )

        return Litestar([send], debug=False, logging_config=None)

    def _authorize(self, request: Request[Any, Any, Any]) -> None:
        header = request.headers.get("authorization", "")
        token = header[7:] if header.lower().startswith("bearer ") else None
        token = token or request.query_params.get("access_token")
        if not token or not secrets.compare_digest(token, self.access_token):
            raise GraphError(190)

    async def _send(
        self, request: Request[Any, Any, Any], version: str, phone_number_id: str
    ) -> Response[bytes]:
        self._authorize(request)
        if not VERSION.match(version) or phone_number_id != self.phone_number_id:
            raise GraphError(
                100,
                f"Unsupported post request. Object with ID "
                f"'{phone_number_id}' does not exist, cannot be loaded due to "
                "missing permissions, or does not support this operation.",
                subcode=33,
            )
        raw = await request.body()
        try:
            payload = json.loads(raw)
        except ValueError:
            error = invalid("The request body must be JSON.")
            self._record_raw(None, error)
            raise error from None
        try:
            outgoing = validate(payload, self.templates)
        except GraphError as error:
            self._record_raw(payload, error)
            raise
        return await self._admit(outgoing)

    async def _admit(self, outgoing: Outgoing) -> Response[bytes]:
        try:
            self._gate(outgoing)
        except GraphError as error:
            self._record(outgoing, error.status, error.code)
            raise
        accepted = self._accept(outgoing)
        self._record(outgoing, 200, wamid=accepted.wamid)
        script = self._scripts.get(outgoing.wa_id)
        first = self._start_statuses(accepted)
        if first is not None and script is not None and script.before_answer:
            await self._deliverer.attempt(first)
        else:
            self._deliverer_schedule(first, accepted)
        body = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": outgoing.to, "wa_id": outgoing.wa_id}],
            "messages": [{"id": accepted.wamid}],
        }
        return Response(encode(body), status_code=200, media_type="application/json")

    def _gate(self, outgoing: Outgoing) -> None:
        """Synchronous refusals: scripted ones, then throughput, then the pair rate."""
        with self._lock:
            script = self._scripts.get(outgoing.wa_id)
            if script is not None and script.refusals:
                raise GraphError(script.refusals.popleft())
        if not self._bucket.take():
            raise GraphError(130429)
        last = self._last_accepted.get(outgoing.wa_id)
        now = time.monotonic()
        if self.pair_interval_s and last is not None and now - last < self.pair_interval_s:
            raise GraphError(131056)
        self._last_accepted[outgoing.wa_id] = now

    def _accept(self, outgoing: Outgoing) -> Accepted:
        accepted = Accepted(
            wamid=self._new_wamid(outgoing.wa_id),
            to=outgoing.to,
            wa_id=outgoing.wa_id,
            type=outgoing.type,
            body=outgoing.body,
            biz_opaque_callback_data=outgoing.biz_opaque_callback_data,
            payload=outgoing.payload,
            at=time.time(),
            steps=self._plan(outgoing),
        )
        with self._lock:
            self.accepted.append(accepted)
            self.by_wamid[accepted.wamid] = accepted
            self.accepted_by_body[accepted.body] += 1
            if accepted.biz_opaque_callback_data is not None:
                self.accepted_by_callback_data[accepted.biz_opaque_callback_data] += 1
        return accepted

    def _plan(self, outgoing: Outgoing) -> tuple[Step, ...]:
        with self._lock:
            script = self._scripts.get(outgoing.wa_id)
            if script is not None and script.failure is not None and script.failures_left != 0:
                if script.failures_left is not None:
                    script.failures_left -= 1
                return (Step("failed", error_code=script.failure),)
        if outgoing.type != "template" and not self._window_open(outgoing.wa_id):
            return (Step("failed", error_code=131047),)
        if script is not None and script.steps is not None:
            return script.steps
        return self.default_steps

    def _window_open(self, wa_id: str) -> bool:
        if wa_id not in self._windows:
            return self.open_windows
        wrote = self._windows[wa_id]
        return wrote is not None and time.time() - wrote < WINDOW_S

    def _record(self, outgoing: Outgoing, status: int, code: int | None = None,
                wamid: str | None = None) -> None:  # fmt: skip
        self._keep(Send(time.time(), outgoing.to, outgoing.biz_opaque_callback_data,
                        outgoing.body, status, code, wamid))  # fmt: skip

    def _record_raw(self, payload: Any, error: GraphError) -> None:
        """A refused body still counts as posted, with what could be read of it."""
        fields = payload if isinstance(payload, dict) else {}
        to, data = fields.get("to"), fields.get("biz_opaque_callback_data")
        self._keep(Send(time.time(), to if isinstance(to, str) else None,
                        data if isinstance(data, str) else None, None, error.status,
                        error.code))  # fmt: skip

    def _keep(self, send: Send) -> None:
        with self._lock:
            self.sends.append(send)
            if send.biz_opaque_callback_data is not None:
                self.posted_by_callback_data[send.biz_opaque_callback_data] += 1

    # -- statuses ----------------------------------------------------------------------

    def _start_statuses(self, accepted: Accepted) -> Delivery | None:
        """The delivery of the first planned status, not yet scheduled."""
        return self._status_delivery(accepted, 0) if accepted.steps else None

    def _deliverer_schedule(self, delivery: Delivery | None, accepted: Accepted) -> None:
        if delivery is not None:
            self._deliverer.schedule(delivery, accepted.steps[0].delay_s)

    def _status_delivery(self, accepted: Accepted, index: int) -> Delivery:
        step = accepted.steps[index]
        item = status_item(
            accepted.wamid,
            step.status,
            accepted.wa_id,
            callback_data=accepted.biz_opaque_callback_data,
            category="utility" if accepted.type == "template" else "service",
            error_code=step.error_code,
        )
        payload = self._envelope(statuses=[item])
        body = encode(payload)
        delivery = self._deliverer.new("status", payload, body, sign(self.app_secret, body))
        if index + 1 < len(accepted.steps):
            delivery.then = lambda: self._next_status(accepted, index + 1)
        return delivery

    def _next_status(self, accepted: Accepted, index: int) -> None:
        delivery = self._status_delivery(accepted, index)
        self._deliverer.schedule(delivery, accepted.steps[index].delay_s)


def _wa_id(number: str) -> str:
    return re.sub(r"[^0-9]", "", number)
