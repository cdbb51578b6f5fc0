"""`Idempotency-Key` on a send: the header, and what a key already in use answers.

A send with a key claims it before anything else is checked. The same key and body
within 24 h (`retention.idempotency_keys`) get the first answer again (202, same body and
headers) and create nothing; another body is a 422; a retry while the first is still
being accepted is a 409 with `Retry-After: 1`. The answer is recorded in the
transaction that stores the operation (`record_step`), and any failure before that
releases the key, so a refused request (4xx) or a failed one (5xx) does not consume it.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import msgspec
from litestar import Request, Response

from opencomms.api.common import account_of, runtime_of
from opencomms.api.errors import ApiError, FieldError, invalid
from opencomms.domain.clock import now_ms
from opencomms.store import idempotency
from opencomms.store.database import Conn
from opencomms.store.errors import StoreUnavailable
from opencomms.store.idempotency import Claim, ClaimLost, KeyRecord

__all__ = ["HEADER", "Answer", "claim", "idempotency_key", "record_step", "release"]

log = logging.getLogger(__name__)

AnyRequest = Request[Any, Any, Any]
HEADER = "Idempotency-Key"
REPLAYED = "Idempotent-Replayed"
_KEY = re.compile(r"[\x20-\x7e]{1,255}")


@dataclass(frozen=True)
class Answer:
    """A response as it is sent, and as it is recorded to be sent again."""

    status: int
    body: bytes
    headers: dict[str, str]

    @classmethod
    def json(cls, status: int, data: Any, headers: dict[str, str]) -> Answer:
        return cls(status, msgspec.json.encode(data), headers)

    def response(self, extra: dict[str, str] | None = None) -> Response[bytes]:
        return Response(
            self.body,
            status_code=self.status,
            media_type="application/json",
            headers={**self.headers, **(extra or {})},
        )


def idempotency_key(request: AnyRequest) -> str | None:
    """The request's key (None without the header), or a 400 naming the header."""
    values = request.headers.getall(HEADER, [])
    if not values:
        return None
    if len(values) > 1:
        raise invalid([FieldError(HEADER, "must be given once")])
    if not _KEY.fullmatch(values[0]):
        raise invalid([FieldError(HEADER, "must be 1 to 255 printable ASCII characters")])
    key: str = values[0]
    return key


async def claim(request: AnyRequest, body: bytes) -> Claim | Response[bytes] | None:
    """Claim the request's key: the claim, None without a key, or the first answer to
    this key and body again. A key in use otherwise raises the 409 or 422."""
    key = idempotency_key(request)
    if key is None:
        return None
    account = account_of(request)
    request_hash = hashlib.sha256(body).hexdigest()
    now = now_ms()
    runtime = runtime_of(request)
    keep_ms = runtime.retention.idempotency_keys_ms
    found = await runtime.db.write(
        lambda conn: idempotency.claim_key(conn, account, key, request_hash, now, keep_ms=keep_ms)
    )
    if isinstance(found, Claim):
        return found
    return _replay(found, request_hash)


def _replay(record: KeyRecord | None, request_hash: str) -> Response[bytes]:
    if record is not None and record.request_hash != request_hash:
        raise ApiError(
            422,
            f"The {HEADER} was already used with another request; use a new key for a new request.",
        )
    if record is None or record.status != "DONE":
        raise in_flight()
    answer = Answer(
        record.response_status or 202,
        (record.response_body or "").encode(),
        record.response_headers or {},
    )
    return answer.response({REPLAYED: "true"})


def in_flight() -> ApiError:
    return ApiError(
        409,
        f"A request with this {HEADER} is still being accepted; retry shortly.",
        headers={"Retry-After": "1"},
    )


def record_step(
    claim: Claim | None, answer: Callable[[str], Answer]
) -> Callable[[Conn, str], Awaitable[None]] | None:
    """The step that records the answer to the operation under the claim, for the
    transaction that stores the operation. If the claim was taken over meanwhile (its
    request stalled past `STALE_PENDING_MS`), it raises a 409, rolling that back."""
    if claim is None:
        return None

    async def step(conn: Conn, operation_id: str) -> None:
        sent = answer(operation_id)
        try:
            await idempotency.complete_key(conn, claim, sent.status, sent.body, sent.headers)
        except ClaimLost:
            raise in_flight() from None

    return step


async def release(request: AnyRequest, claim: Claim | None) -> None:
    """Give the key back after a failure; if even that fails, the claim goes stale and
    a retry takes it over after `STALE_PENDING_MS`."""
    if claim is None:
        return
    try:
        await runtime_of(request).db.write(lambda conn: idempotency.release_key(conn, claim))
    except StoreUnavailable as error:
        log.warning("idempotency key of account %s not released: %s", claim.account_sid, error)
    except Exception:
        log.exception("could not release idempotency key of account %s", claim.account_sid)
