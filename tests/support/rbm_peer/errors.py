"""Google's error answers, as the RBM peer sends them: the JSON error body of Google APIs
(`{"error": {"code", "message", "status", "details"}}`) and the OAuth token endpoint's
(`{"error", "error_description"}`)."""

from __future__ import annotations

from typing import Any

from litestar import Response

__all__ = ["STATUS_NAMES", "google_error", "invalid_argument", "oauth_error"]

# HTTP status → the google.rpc.Code name Google's JSON errors carry
STATUS_NAMES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ALREADY_EXISTS",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
}

# the messages Google's front end answers with, by status, when nothing more precise is said
DEFAULT_MESSAGES = {
    404: "Requested entity was not found.",
    409: "Requested entity already exists",
    429: "Resource has been exhausted (e.g. check quota).",
    500: "Internal error encountered.",
    503: "The service is currently unavailable.",
    504: "The request timed out. Please try again.",
}


def google_error(
    code: int,
    message: str | None = None,
    details: list[dict[str, Any]] | None = None,
    headers: dict[str, str] | None = None,
) -> Response[Any]:
    error: dict[str, Any] = {
        "code": code,
        "message": message or DEFAULT_MESSAGES.get(code, "Error."),
        "status": STATUS_NAMES.get(code, "UNKNOWN"),
    }
    if details:
        error["details"] = details
    return Response({"error": error}, status_code=code, headers=headers)


def invalid_argument(message: str, field: str | None = None) -> Response[Any]:
    details = None
    if field is not None:
        details = [
            {
                "@type": "type.googleapis.com/google.rpc.BadRequest",
                "fieldViolations": [{"field": field, "description": message}],
            }
        ]
    return google_error(400, message, details)


def oauth_error(error: str, description: str, code: int = 400) -> Response[Any]:
    return Response({"error": error, "error_description": description}, status_code=code)
