"""`RbmPeer`: the RBM platform on a real socket (uvicorn in a thread of the test process,
with its own event loop), and the calls a test steers and inspects it with. The API is
described in the package's docstring."""

from __future__ import annotations

import asyncio
import socket
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, TypeVar

import uvicorn

from tests.support.rbm_peer.app import build_app
from tests.support.rbm_peer.keys import ServiceAccount
from tests.support.rbm_peer.platform import Options, Platform
from tests.support.rbm_peer.records import (
    DELIVERED,
    Accepted,
    Push,
    Records,
    Revocation,
    Script,
    Token,
)
from tests.support.rbm_peer.webhooks import FORGED, UNSIGNED, Pusher

__all__ = ["FORGED", "UNSIGNED", "Handshake", "RbmPeer"]

T = TypeVar("T")


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port: int = probe.getsockname()[1]
        return port


@dataclass(frozen=True)
class Handshake:
    """The webhook's answer to the registration POST; `ok` when it echoed the secret."""

    ok: bool
    status: int | None
    body: str


class RbmPeer:
    """The RBM API and its webhook pushes, for one agent, on 127.0.0.1."""

    def __init__(
        self,
        directory: Path,
        agent_id: str = "opencomms-test-agent",
        min_backoff: float = 0.05,
        max_backoff: float = 1.0,
        retry_for: float = 600.0,
        push_timeout: float = 10.0,
        workers: int = 16,
    ) -> None:
        self.agent_id = agent_id
        self.port = _free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.token_uri = self.url + "/token"
        # reentrant: a delivery changes a message's state and queues its events as one
        # step under it, so that no reader sees a message delivered with nothing pending
        self._lock = threading.RLock()
        subscription = f"projects/opencomms-test/subscriptions/rbm-{agent_id}"
        self._pusher = Pusher(
            Records(), self._lock, subscription, min_backoff, max_backoff, retry_for,
            push_timeout, workers,
        )  # fmt: skip
        self._platform = Platform(agent_id, self.token_uri, self._pusher, self._lock)
        self.account = ServiceAccount.mint(self.token_uri)
        self._platform.accounts[self.account.client_email] = self.account
        self.key_file = self.account.write(directory / "rbm-service-account.json")
        self._loop: asyncio.AbstractEventLoop | None = None
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name="rbm peer", daemon=True)

    # lifecycle

    def __enter__(self) -> RbmPeer:
        return self.start()

    def __exit__(self, *_: object) -> None:
        self.stop()

    def start(self) -> RbmPeer:
        self._thread.start()
        deadline = time.monotonic() + 30
        while self._server is None or not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the RBM peer did not start")
            time.sleep(0.01)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        self._thread.join(timeout=30)

    def _run(self) -> None:
        self._loop = asyncio.new_event_loop()
        self._loop.run_until_complete(self._serve())
        self._loop.close()

    async def _serve(self) -> None:
        self._platform.loop = asyncio.get_running_loop()
        await self._pusher.start()
        # uvicorn binds the port itself: given a bound socket, it answers each request
        # ~40 ms late on this machine (Nagle against delayed ACKs)
        config = uvicorn.Config(
            build_app(self._platform),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            lifespan="off",
            access_log=False,
        )
        self._server = uvicorn.Server(config)
        try:
            await self._server.serve()
        finally:
            await self._pusher.stop()

    def _call(self, function: Callable[..., T], *args: Any) -> T:
        """Run `function` on the peer's loop (where its state changes) and wait for it."""
        assert self._loop is not None

        async def invoke() -> T:
            return function(*args)

        future: Future[T] = asyncio.run_coroutine_threadsafe(invoke(), self._loop)
        return future.result(timeout=30)

    # configuration

    @property
    def options(self) -> Options:
        """Delivery behaviour; set attributes on it (see `Options`)."""
        return self._platform.options

    @property
    def client_token(self) -> str:
        return self._pusher.client_token

    @client_token.setter
    def client_token(self, value: str) -> None:
        self._pusher.client_token = value

    def set_webhook(self, url: str | None) -> None:
        """Where events are pushed (None holds them until a URL is set)."""
        self._call(self._pusher.set_url, url)

    def register_webhook(self, url: str, secret: str = "peer-secret-1234567890") -> Handshake:
        """Google's webhook configuration: POST {clientToken, secret} to `url`; when the
        answer is 200 with the secret as its body, events go to `url` from now on."""
        assert self._loop is not None
        coroutine = self._pusher.handshake(url, secret, self.client_token)
        status, body = asyncio.run_coroutine_threadsafe(coroutine, self._loop).result(30)
        ok = status == 200 and body.strip() == secret
        with self._lock:
            self._pusher.records.handshakes.append((url, status, body))
        if ok:
            self.set_webhook(url)
        return Handshake(ok, status, body)

    async def aregister_webhook(
        self, url: str, secret: str = "peer-secret-1234567890"
    ) -> Handshake:
        """`register_webhook` for async tests (the event loop keeps running meanwhile)."""
        return await asyncio.to_thread(self.register_webhook, url, secret)

    def unreachable(self, *numbers: str) -> None:
        """These numbers are not RCS-capable: sends and capability checks answer 404."""
        for number in numbers:
            self._platform.phones[number].capable = False

    def offline(self, *numbers: str) -> None:
        """Messages to these numbers are accepted and held until `come_online`."""
        for number in numbers:
            self._platform.phones[number].online = False

    def come_online(self, number: str) -> None:
        """The phone connects; what is held for it and still live is delivered."""
        self._call(self._platform.come_online, number)

    def fail(
        self, number: str | None, status: int, times: int = 1, after_accept: bool = False
    ) -> None:
        """Answer the next `times` sends to `number` (None: to any number) with `status`
        and Google's error body; with `after_accept` the message is accepted (and
        delivered) first, as when an answer is lost."""
        script = Script(status, times, after_accept)
        if number is None:
            self._platform.any_number.append(script)
        else:
            self._platform.phones[number].scripts.append(script)

    def clear_failures(self) -> None:
        """Forget every scripted failure not yet used."""
        self._call(self._clear_failures)

    def _clear_failures(self) -> None:
        self._platform.any_number.clear()
        self._platform.token_scripts.clear()
        for phone in self._platform.phones.values():
            phone.scripts.clear()

    def fail_token_requests(self, status: int = 500, times: int = 1) -> None:
        self._platform.token_scripts.append(Script(status, times))

    def expire_tokens(self) -> None:
        """Every access token issued so far is expired from now on."""
        with self._lock:
            for token in self._platform.tokens.values():
                token.expires_at = 0.0

    def stranger(self) -> ServiceAccount:
        """A service account the platform does not know (its JWTs are refused)."""
        return ServiceAccount.mint(self.token_uri, fresh_key=True)

    # events

    def hold_events(self) -> None:
        """Keep every event from now on until `release_events`."""
        self._pusher.holding = True

    def release_events(self, reverse: bool = False) -> int:
        """Push the held events, in order (or reversed), one after the other."""
        return self._call(self._pusher.release, reverse)

    def duplicate_events(self, copies: int = 2) -> None:
        """Push each event from now on `copies` times (as Pub/Sub redelivers)."""
        self._pusher.copies = copies

    def push_user_message(
        self, number: str, text: str | None = None, suggestion: tuple[str, str] | None = None
    ) -> dict[str, Any]:
        """The user sends `text` (or taps a suggestion: (text, postbackData))."""
        event = self._platform.user_message(number, text, suggestion)
        self._call(self._pusher.publish, [event])
        return event

    def push_event(self, event: dict[str, Any], signing: str = "") -> None:
        """Push any event JSON; `signing` FORGED signs with another token, UNSIGNED
        leaves the X-Goog-Signature header out."""
        self._call(self._pusher.publish, [event], False, signing)

    def push_raw(self, data: bytes, signing: str = "") -> None:
        self._call(self._pusher.publish_raw, data, signing)

    def user_event(self, number: str, event_type: str, message_id: str) -> dict[str, Any]:
        """A UserEvent JSON as the platform writes it (to push with `push_event`)."""
        return self._platform.user_event(number, event_type, message_id)

    # records

    @property
    def records(self) -> Records:
        """Everything recorded; read under no lock, so prefer the calls below."""
        return self._pusher.records

    def message(self, message_id: str) -> Accepted | None:
        with self._lock:
            found = self.records.accepted.get(message_id)
            return replace(found) if found else None

    def messages(self, state: str | None = None) -> list[Accepted]:
        """Accepted messages (in accept order), optionally only those in `state`."""
        with self._lock:
            found = list(self.records.accepted.values())
        return [replace(m) for m in found if state is None or m.state == state]

    def delivered_to(self, number: str) -> list[str]:
        """The messageIds delivered to `number`, in accept order."""
        return [m.message_id for m in self.messages(DELIVERED) if m.phone == number]

    def delivered_by_phone(self) -> dict[str, list[str]]:
        """Every phone that got messages → their messageIds in accept order (one pass,
        for checks over thousands of recipients)."""
        found: dict[str, list[str]] = {}
        for message in self.messages(DELIVERED):
            found.setdefault(message.phone, []).append(message.message_id)
        return found

    def posts(self, message_id: str) -> int:
        """How many times `message_id` was POSTed, whatever the answer."""
        with self._lock:
            return self.records.posts[message_id]

    def answers(self, message_id: str | None = None) -> list[tuple[str, str, int]]:
        """(messageId, phone, status) of each POST, optionally for one messageId."""
        with self._lock:
            found = list(self.records.answers)
        return [a for a in found if message_id is None or a[0] == message_id]

    def delivered_twice(self) -> list[str]:
        """messageIds that reached a phone more than once (must stay empty)."""
        return [m.message_id for m in self.messages() if m.deliveries > 1]

    def revocations(self) -> list[Revocation]:
        with self._lock:
            return list(self.records.revocations)

    def tokens(self) -> list[Token]:
        with self._lock:
            return list(self.records.tokens)

    def pushes(self, event_type: str | None = None) -> list[Push]:
        """Every push attempt (with the receiver's answer), optionally of one eventType."""
        with self._lock:
            found = list(self.records.pushes)
        return [p for p in found if event_type is None or p.event.get("eventType") == event_type]

    def pending_events(self) -> int:
        """Events not yet acknowledged by the webhook (held, queued or retrying)."""
        return self._pusher.pending

    def wait(self, check: Callable[[], Any], timeout: float = 30) -> Any:
        """Poll `check` until truthy (for sync tests)."""
        deadline = time.monotonic() + timeout
        while not (value := check()):
            if time.monotonic() > deadline:
                raise AssertionError(f"RBM peer: condition not met within {timeout}s")
            time.sleep(0.02)
        return value

    async def until(self, check: Callable[[], Any], within: float = 30) -> Any:
        """Poll `check` until truthy without blocking the caller's event loop."""
        deadline = time.monotonic() + within
        while not (value := check()):
            if time.monotonic() > deadline:
                raise AssertionError(f"RBM peer: condition not met within {within}s")
            await asyncio.sleep(0.02)
        return value
