"""The peer's callback side: the status callback form Twilio posts, its
`X-Twilio-Signature`, and posting it (from the peer's event loop)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import threading
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from urllib.parse import urlencode

import httpx

__all__ = ["Callback", "Poster", "sign", "status_form"]


def sign(auth_token: str, url: str, form: Sequence[tuple[str, str]]) -> str:
    """`X-Twilio-Signature`: base64 HMAC-SHA1, keyed with the auth token, of the URL
    followed by each parameter's name and value, sorted by name (then value)."""
    data = url
    for name in sorted({name for name, _ in form}):
        for value in sorted({value for key, value in form if key == name}):
            data += name + value
    return base64.b64encode(
        hmac.new(auth_token.encode(), data.encode(), hashlib.sha1).digest()
    ).decode()


def status_form(
    account_sid: str,
    sid: str,
    status: str,
    to: str,
    from_: str | None,
    service: str | None,
    error_code: int | None,
) -> list[tuple[str, str]]:
    """A status callback's parameters, as Twilio's status callback guide lists them."""
    form = [
        ("AccountSid", account_sid),
        ("ApiVersion", "2010-04-01"),
        ("From", from_ or ""),
        ("MessageSid", sid),
        ("MessageStatus", status),
        ("SmsSid", sid),
        ("SmsStatus", status),
        ("To", to),
    ]
    if service:
        form.append(("MessagingServiceSid", service))
    if status in ("undelivered", "failed"):
        form.append(("ErrorCode", str(error_code or 30008)))
    if to.startswith("whatsapp:"):
        form += [("ChannelPrefix", "whatsapp"), ("ChannelToAddress", to.removeprefix("whatsapp:"))]
    return form


@dataclass
class Callback:
    """One callback posted: to where, what, and how the receiver answered (None: no
    answer; `error` says why)."""

    sid: str
    status: str
    url: str
    form: list[tuple[str, str]]
    signature: str
    answered: int | None = None
    error: str | None = None
    at: float = 0.0
    done: threading.Event = field(default_factory=threading.Event, repr=False)


class Poster:
    """Posts callbacks from the peer's loop, at most `concurrency` at once."""

    def __init__(self, concurrency: int, timeout_s: float) -> None:
        self._slots = asyncio.Semaphore(concurrency)
        self._timeout_s = timeout_s
        self._client: httpx.AsyncClient | None = None

    async def post(self, callback: Callback) -> None:
        if self._client is None:
            self._client = httpx.AsyncClient(timeout=self._timeout_s, trust_env=False)
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "X-Twilio-Signature": callback.signature,
            "User-Agent": "TwilioProxy/1.1",
            "I-Twilio-Idempotency-Token": f"{callback.sid}-{callback.status}",
        }
        async with self._slots:
            try:
                answer = await self._client.post(
                    callback.url, content=urlencode(callback.form), headers=headers
                )
                callback.answered = answer.status_code
            except httpx.HTTPError as error:
                callback.error = repr(error)
        callback.at = time.time()
        callback.done.set()

    async def close(self) -> None:
        if self._client is not None:
            await self._client.aclose()
