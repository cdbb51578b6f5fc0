"""One POST to a sink, bounded in time and memory, reduced to what delivery needs of it.

A receiver is chosen by an API caller and may be broken or hostile: it may answer with an
endless body, trickle one byte a second, or never answer at all. httpx's timeouts are per
step (a read that gets one byte in time succeeds), so the whole exchange also runs under
one deadline. The body is never needed: it is read raw (never decompressed) up to a small
limit, so that a short answer leaves the connection reusable, and past that the
connection is closed rather than read to its end.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import NamedTuple

import httpx

from opencomms.domain.storable import storable_text

__all__ = ["PostLimits", "PostResult", "post_bounded"]


@dataclass(frozen=True)
class PostLimits:
    total_s: float = 15.0  # connect to the last byte read
    max_response_bytes: int = 64 * 1024


class PostResult(NamedTuple):
    """The receiver's status (None when it gave none) or why there was no answer."""

    status_code: int | None
    retry_after: str | None
    error: str | None


async def post_bounded(
    client: httpx.AsyncClient,
    url: str,
    body: bytes,
    headers: dict[str, str],
    limits: PostLimits,
) -> PostResult:
    """POST `body`; once the status has arrived it stands, whatever the body then does."""
    status_code: int | None = None
    retry_after: str | None = None
    try:
        async with (
            asyncio.timeout(limits.total_s),
            client.stream("POST", url, content=body, headers=headers) as response,
        ):
            status_code, retry_after = response.status_code, response.headers.get("retry-after")
            await _read_some(response, limits.max_response_bytes)
    except TimeoutError:
        if status_code is None:
            return PostResult(None, None, f"DeliveryTimeout: no answer within {limits.total_s:g} s")
    except httpx.HTTPError as failure:
        if status_code is None:
            return PostResult(None, None, _describe(failure))
    return PostResult(status_code, retry_after, None)


async def _read_some(response: httpx.Response, limit: int) -> None:
    """Read the body up to `limit` bytes and drop it; leaving earlier closes the connection."""
    read = 0
    async for chunk in response.aiter_raw():
        read += len(chunk)
        if read > limit:
            return


def _describe(failure: httpx.HTTPError) -> str:
    """The failure as the delivery log stores it (its text may quote the receiver's)."""
    name = type(failure).__name__
    return storable_text(f"{name}: {failure}") if str(failure) else name
