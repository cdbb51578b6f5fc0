"""A small synchronous client of the opencomms HTTP API, for the CLI.

Answers 429 and 503 are retried after their `Retry-After`: they mean the request was not
taken. A send carries an `Idempotency-Key`, so a retried send cannot create a second
operation. Reads are also retried when the answer is lost on the way (timeouts, dropped
connections); a refused connection is reported at once (the server is not running).
"""

from __future__ import annotations

import time
import uuid
from typing import Any, Self

import httpx

from opencomms.cli.connection import Connection

__all__ = ["ApiClient", "ApiFailure", "Unreachable", "describe_failure"]

RETRY_STATUSES = frozenset({429, 503})
MAX_ATTEMPTS = 5
MAX_DELAY = 10.0
TIMEOUT = 60.0


class ApiFailure(Exception):
    """The server answered with an error (4xx or 5xx); `body` is the contract's error body."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        super().__init__(f"HTTP {status}: {body.get('message', '')}")
        self.status = status
        self.body = body


class Unreachable(Exception):
    """No answer from the server (refused, timed out, connection lost)."""


class ApiClient:
    """`POST /v1/Messages` and `GET /v1/Messages/Operations/{id}`, with HTTP Basic auth."""

    def __init__(self, connection: Connection, *, transport: httpx.BaseTransport | None = None):
        self.url = connection.url
        self._http = httpx.Client(
            base_url=connection.url + "/v1",
            auth=(connection.account_sid, connection.auth_token),
            timeout=TIMEOUT,
            headers={"User-Agent": "opencomms-cli"},
            transport=transport,
        )

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        self._http.close()

    def send(self, body: dict[str, Any]) -> str:
        """Create one operation; its id."""
        headers = {"Idempotency-Key": uuid.uuid4().hex}
        answer = self._request("POST", "/Messages", json=body, headers=headers)
        operation_id: str = answer["operationId"]
        return operation_id

    def operation(self, operation_id: str) -> dict[str, Any]:
        """The operation with its live stats."""
        return self._request("GET", f"/Messages/Operations/{operation_id}")

    def _request(self, method: str, path: str, **kwargs: Any) -> dict[str, Any]:
        for attempt in range(1, MAX_ATTEMPTS + 1):
            final = attempt == MAX_ATTEMPTS
            try:
                response = self._http.request(method, path, **kwargs)
            except httpx.TransportError as error:
                if final or not _may_retry(method, error):
                    raise Unreachable(f"no answer from {self.url}: {error!r}") from error
                time.sleep(_backoff(attempt))
                continue
            if response.status_code in RETRY_STATUSES and not final:
                time.sleep(_retry_after(response) or _backoff(attempt))
                continue
            return _json_or_failure(response)
        raise AssertionError("unreachable")  # pragma: no cover


def _may_retry(method: str, error: httpx.TransportError) -> bool:
    """Reads may be repeated; a refused connection will not get better in a few seconds."""
    return method == "GET" and not isinstance(error, httpx.ConnectError)


def _backoff(attempt: int) -> float:
    delay: float = 0.5 * 2 ** (attempt - 1)
    return min(delay, MAX_DELAY)


def _retry_after(response: httpx.Response) -> float | None:
    try:
        return min(max(float(response.headers["Retry-After"]), 0.0), MAX_DELAY)
    except (KeyError, ValueError):
        return None


def _json_or_failure(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        body = None
    if not isinstance(body, dict):
        body = {"message": response.text.strip() or response.reason_phrase}
    if response.is_error:
        raise ApiFailure(response.status_code, body)
    return body


def describe_failure(failure: ApiFailure) -> str:
    """The error body for people: its message, then one `field: message` line per problem."""
    body = failure.body
    code = f" (code {body['code']})" if "code" in body else ""
    lines = [f"HTTP {failure.status}{code}: {body.get('message', '')}".rstrip()]
    for item in body.get("errors") or []:
        if isinstance(item, dict):
            lines.append(f"  {item.get('field', '?')}: {item.get('message', '')}")
    return "\n".join(lines)
