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
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import uvicorn
from litestar import Litestar, Request, Response, post
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from tests.support.whatsapp_peer.graph import GraphError, Outgoing, Template, invalid, validate
from tests.support.whatsapp_peer.scripts import Scripts, Step, StepLike, steps, wa_id
from tests.support.whatsapp_peer.webhooks import (
    Deliverer,
    Delivery,
    encode,
    envelope,
    sign,
    status_item,
)

__all__ = ["Accepted", "Send", "WhatsAppPeer"]

VERSION = re.compile(r"^v[0-9]+\.[0-9]+$")
# about a minute in all: enough for a killed app to come back; Meta retries for longer
DEFAULT_RETRY_DELAYS_S = (0.05, 0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 10.0, 10.0, 10.0, 10.0)
BATCH_WAIT_S = 0.005


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


class WhatsAppPeer(Scripts):
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
        statuses: tuple[StepLike, ...] = ("sent", "delivered"),
        statuses_per_post: int = 1,
        callback_data_on_failed: bool = True,
        retry_delays_s: tuple[float, ...] = DEFAULT_RETRY_DELAYS_S,
        webhook_concurrency: int = 16,
        webhook_timeout_s: float = 10.0,
    ) -> None:
        super().__init__(throughput_per_s, pair_interval_s, open_windows, steps(*statuses))
        self.access_token = access_token
        self.phone_number_id = phone_number_id
        self.display_phone_number = display_phone_number
        self.waba_id = waba_id
        self.app_secret = app_secret
        self.verify_token = verify_token
        self.webhook_url = webhook_url
        self.statuses_per_post = statuses_per_post
        self.callback_data_on_failed = callback_data_on_failed
        self.templates: dict[tuple[str, str], Template] = {}
        self._lock = threading.Lock()
        self._ids = itertools.count(1)
        self._records()
        self._deliverer = Deliverer(
            lambda: self.webhook_url, retry_delays_s, webhook_concurrency, webhook_timeout_s
        )
        self._batch: list[tuple[dict[str, Any], Callable[[], None] | None]] = []
        self._batch_timer: asyncio.TimerHandle | None = None
        self._waiting = 0  # statuses due but not yet in a delivery (delayed or batched)
        self._listen()

    def reset(self) -> None:
        """Forget records and scripts (for a peer shared by several tests); webhooks
        still pending are kept going."""
        self.forget_scripts()
        self.templates.clear()
        with self._lock:
            self._records()

    def _records(self) -> None:
        self.sends: list[Send] = []
        self.accepted: list[Accepted] = []
        self.by_wamid: dict[str, Accepted] = {}
        self.posted_by_callback_data: Counter[str] = Counter()
        self.posted_by_body: Counter[str] = Counter()
        self.accepted_by_callback_data: Counter[str] = Counter()
        self.accepted_by_body: Counter[str] = Counter()

    # -- lifecycle ---------------------------------------------------------------------

    def _listen(self) -> None:
        self._socket = socket.create_server(("127.0.0.1", 0))
        # accepted connections inherit it: without it every answer waits ~40 ms for the
        # client's delayed ACK (Nagle), which would cap any sender at connections / 40 ms
        self._socket.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
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

    # -- settings ----------------------------------------------------------------------

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
        """Deliveries not yet answered 200 nor given up."""
        return self._deliverer.pending()

    def unsettled(self) -> int:
        """Webhooks still to come: pending deliveries, and statuses due later."""
        return len(self.pending()) + self._waiting

    def wait_settled(self, timeout: float = 30) -> None:
        """Block until every webhook is answered 200 or given up."""
        deadline = time.monotonic() + timeout
        while self.unsettled():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.unsettled()} webhooks still to come")
            time.sleep(0.01)

    async def settled(self, within_s: float = 30) -> None:
        """As wait_settled, from any event loop."""
        deadline = time.monotonic() + within_s
        while self.unsettled():
            if time.monotonic() > deadline:
                raise AssertionError(f"{self.unsettled()} webhooks still to come")
            await asyncio.sleep(0.01)

    # -- pushing webhooks --------------------------------------------------------------

    def push_user_message(
        self, number: str, text: str, *, name: str = "Test User", wamid: str | None = None
    ) -> Delivery:
        """A user writes `text` from `number`: a signed `messages` webhook (which also
        opens the user's 24-hour window)."""
        user = wa_id(number)
        self.user_wrote(user)
        message = {
            "from": user,
            "id": wamid or self._new_wamid(user),
            "timestamp": str(int(time.time())),
            "type": "text",
            "text": {"body": text},
        }
        contacts = [{"profile": {"name": name}, "wa_id": user}]
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

    def _new_wamid(self, user: str) -> str:
        raw = f"\x15\x02\x00\x11\x18{user}{next(self._ids):020X}{secrets.token_hex(4)}"
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

        def unsupported(request: Request[Any, Any, Any], _: Exception) -> Response[bytes]:
            error = GraphError(100, f"Unsupported {request.method.lower()} request.")
            return Response(encode(error.body()), status_code=400, media_type="application/json")

        return Litestar(
            [send],
            debug=False,
            logging_config=None,
            exception_handlers={
                NotFoundException: unsupported,
                MethodNotAllowedException: unsupported,
            },
        )

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
            self.gate(outgoing)
        except GraphError as error:
            self._record(outgoing, error.status, error.code)
            raise
        accepted = self._accept(outgoing)
        self._record(outgoing, 200, wamid=accepted.wamid)
        before_answer, hold_s = self.answer_plan(outgoing.wa_id)
        if before_answer and accepted.steps:
            first = self._status_delivery([self._item(accepted, 0)], [self._then(accepted, 0)])
            await self._deliverer.attempt(first)
        elif accepted.steps:
            self._due(accepted, 0)
        if hold_s:
            await asyncio.sleep(hold_s)
        message: dict[str, str] = {"id": accepted.wamid}
        if outgoing.type == "template":  # template pacing: accepted, held or paused
            message["message_status"] = "accepted"
        body = {
            "messaging_product": "whatsapp",
            "contacts": [{"input": outgoing.to, "wa_id": outgoing.wa_id}],
            "messages": [message],
        }
        return Response(encode(body), status_code=200, media_type="application/json")

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
            steps=self.plan(outgoing),
        )
        with self._lock:
            self.accepted.append(accepted)
            self.by_wamid[accepted.wamid] = accepted
            self.accepted_by_body[accepted.body] += 1
            if accepted.biz_opaque_callback_data is not None:
                self.accepted_by_callback_data[accepted.biz_opaque_callback_data] += 1
        return accepted

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
            if send.body is not None:
                self.posted_by_body[send.body] += 1

    # -- statuses ----------------------------------------------------------------------

    def _due(self, accepted: Accepted, index: int) -> None:
        """Status `index` of `accepted` goes out after its delay (on the peer's loop)."""
        self._waiting += 1
        delay_s = accepted.steps[index].delay_s
        if delay_s > 0:
            asyncio.get_running_loop().call_later(delay_s, self._queue, accepted, index)
        else:
            self._queue(accepted, index)

    def _queue(self, accepted: Accepted, index: int) -> None:
        self._batch.append((self._item(accepted, index), self._then(accepted, index)))
        if len(self._batch) >= self.statuses_per_post:
            self._flush()
        elif self._batch_timer is None:
            self._batch_timer = asyncio.get_running_loop().call_later(BATCH_WAIT_S, self._flush)

    def _flush(self) -> None:
        if self._batch_timer is not None:
            self._batch_timer.cancel()
            self._batch_timer = None
        batch, self._batch = self._batch, []
        if batch:
            items, thens = [item for item, _ in batch], [then for _, then in batch]
            delivery = self._status_delivery(items, thens)
            self._waiting -= len(batch)
            self._deliverer.schedule(delivery)

    def _item(self, accepted: Accepted, index: int) -> dict[str, Any]:
        step = accepted.steps[index]
        echo = step.status != "failed" or self.callback_data_on_failed
        return status_item(
            accepted.wamid,
            step.status,
            accepted.wa_id,
            callback_data=accepted.biz_opaque_callback_data if echo else None,
            category="utility" if accepted.type == "template" else "service",
            error_code=step.error_code,
        )

    def _then(self, accepted: Accepted, index: int) -> Callable[[], None] | None:
        if index + 1 >= len(accepted.steps):
            return None
        return lambda: self._due(accepted, index + 1)

    def _status_delivery(
        self, items: list[dict[str, Any]], thens: list[Callable[[], None] | None]
    ) -> Delivery:
        payload = self._envelope(statuses=items)
        body = encode(payload)
        delivery = self._deliverer.new("status", payload, body, sign(self.app_secret, body))
        follow = [then for then in thens if then is not None]
        if follow:
            delivery.then = lambda: _call_each(follow)
        return delivery


def _call_each(functions: list[Callable[[], None]]) -> None:
    for function in functions:
        function()
