"""The contract's error body, and the translation of every failure into it.

`{"code", "message", "more_info", "moreInfo", "status", "errors": [{"field", "message"}]}`:
a 400 lists every problem found at once. No exception leaves the app as anything else.
`more_info` is the name in Twilio's `TwilioError` (the Comms API's OpenAPI);
`moreInfo`, the same URL, is the contract's (shared/spec/API.md) and stays for the
clients written against it (docs/decisions.md, "Error body field names").
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Iterable
from http import HTTPStatus
from typing import Any

import msgspec
from litestar import Request, Response
from litestar.exceptions import HTTPException

from opencomms.store.errors import StoreUnavailable

__all__ = [
    "ApiError",
    "FieldError",
    "conflict",
    "exception_handlers",
    "field_path",
    "invalid",
    "not_found",
    "unavailable",
    "unknown_fields",
]

log = logging.getLogger(__name__)

# HTTP status -> (code, default message); the codes are documented in docs/errors.md
CODES: dict[int, tuple[int, str]] = {
    400: (20001, "The request is invalid."),
    401: (20003, "Authentication failed: give an Account SID and Auth Token, or an API key."),
    404: (20404, "The requested resource was not found."),
    405: (20405, "This method is not allowed on this resource."),
    409: (20409, "The request conflicts with the resource's current state."),
    413: (20413, "The request body is too large."),
    415: (20415, "The request body must be JSON (Content-Type: application/json)."),
    422: (20422, "The request cannot be processed."),
    429: (20429, "Too many requests. Please retry according to the Retry-After response header."),
    500: (20500, "Internal server error."),
    503: (20503, "Service unavailable. Please retry according to the Retry-After response header."),
}
MORE_INFO = "https://www.twilio.com/docs/errors/{code}"


class FieldError(msgspec.Struct):
    field: str
    message: str


class ErrorBody(msgspec.Struct):
    code: int
    message: str
    more_info: str
    moreInfo: str
    status: int
    errors: list[FieldError]


class ApiError(Exception):
    def __init__(
        self,
        status: int,
        message: str | None = None,
        *,
        errors: list[FieldError] | None = None,
        headers: dict[str, str] | None = None,
    ) -> None:
        code, default = CODES.get(status) or _other(status)
        super().__init__(message or default)
        self.status = status
        self.code = code
        self.message = message or default
        self.errors = errors or []
        self.headers = headers or {}

    def body(self) -> bytes:
        """The contract's error body, encoded."""
        url = MORE_INFO.format(code=self.code)
        body = ErrorBody(self.code, self.message, url, url, self.status, self.errors)
        return msgspec.json.encode(body)

    def response(self) -> Response[bytes]:
        headers = dict(self.headers)
        if self.status == 401:
            headers.setdefault("WWW-Authenticate", 'Basic realm="opencomms"')
        return Response(
            self.body(),
            status_code=self.status,
            media_type="application/json",
            headers=headers,
        )


def _other(status: int) -> tuple[int, str]:
    """The code and message of a status the table does not name (e.g. 403, 411, 431)."""
    try:
        phrase = HTTPStatus(status).phrase
    except ValueError:
        return CODES[500]
    return 20000 + status, f"{phrase}."


def field_path(path: str, key: str) -> str:
    """The name of `key` inside `path` in an error; an empty key shows as `""`, so that
    every problem names a field."""
    name = key or '""'
    return f"{path}.{name}" if path else name


def unknown_fields(
    keys: Iterable[str],
    known: Collection[str],
    path: str = "",
    message: str = "is not a known field",
) -> list[FieldError]:
    return [FieldError(field_path(path, key), message) for key in keys if key not in known]


def invalid(errors: list[FieldError], message: str | None = None) -> ApiError:
    count = len(errors)
    summary = message or (
        f"{errors[0].field} {errors[0].message}"
        if count == 1
        else f"The request has {count} problems; each is listed in errors."
    )
    return ApiError(400, summary, errors=errors)


def not_found(kind: str, identifier: str) -> ApiError:
    return ApiError(404, f"{kind} {identifier} was not found.")


def conflict(message: str) -> ApiError:
    return ApiError(409, message)


def _api_error(_: Request[Any, Any, Any], error: ApiError) -> Response[bytes]:
    return error.response()


def _http_error(request: Request[Any, Any, Any], error: HTTPException) -> Response[bytes]:
    """Litestar's own refusals (no route, 405, 413, ...) in the contract's body: a client
    error keeps its status, whether the table names it or not."""
    status = error.status_code
    if status not in CODES and not 400 <= status < 500:
        log.error("server error on %s %s: %r", request.method, request.url.path, error)
        status = 500
    message = None if status in (401, 404, 405, 413, 500) else str(error.detail)
    headers = {"Retry-After": "1"} if status in (429, 503) else {}
    if status == 405:
        headers.update({k: v for k, v in (error.headers or {}).items() if k.lower() == "allow"})
    return ApiError(status, message, headers=headers).response()


def unavailable(request: Request[Any, Any, Any]) -> ApiError:
    """The 503 of a database that cannot be used now, with the configured Retry-After."""
    retry_after: str = request.app.state.runtime.settings.faults.retry_after_header
    return ApiError(503, _UNAVAILABLE, headers={"Retry-After": retry_after})


_UNAVAILABLE = (
    "The database is unavailable (a full disk or a lost connection); retry after the"
    " Retry-After header's seconds."
)


def _store_unavailable(request: Request[Any, Any, Any], error: StoreUnavailable) -> Response[bytes]:
    log.info("503 on %s %s: %s", request.method, request.url.path, error)
    return unavailable(request).response()


def _unexpected(request: Request[Any, Any, Any], error: Exception) -> Response[bytes]:
    log.exception("unexpected error on %s %s", request.method, request.url.path, exc_info=error)
    return ApiError(500).response()


exception_handlers: dict[type[Exception], Any] = {
    ApiError: _api_error,
    StoreUnavailable: _store_unavailable,
    HTTPException: _http_error,
    Exception: _unexpected,
}
