"""The console acts through the API, in-process, as the signed-in user: every write and
most reads are the API's own requests (its validation, its account scoping, its error
bodies), so the console cannot see or do anything the user's credential could not."""

from __future__ import annotations

from typing import Any

import httpx
from litestar import Request

from opencomms.console.session import Session

__all__ = ["ApiFailure", "NotFound", "api_call", "api_json"]

AnyRequest = Request[Any, Any, Any]


class NotFound(Exception):
    """Nothing of the signed-in account's at this URL: the console's 404 page."""


class ApiFailure(Exception):
    """The API refused a request (a 4xx other than 404): its problems, to show."""

    def __init__(self, status: int, problems: list[str]) -> None:
        super().__init__(f"{status}: {'; '.join(problems)}")
        self.status = status
        self.problems = problems


def _problems(response: httpx.Response) -> list[str]:
    try:
        body = response.json()
    except ValueError:
        return [response.text or f"HTTP {response.status_code}"]
    found = [
        f"{error.get('field') or error.get('path') or ''} {error.get('message') or error}".strip()
        for error in body.get("errors") or []
        if isinstance(error, dict)
    ]
    return found or [str(body.get("message") or body.get("detail") or body)]


async def api_call(
    request: AnyRequest, session: Session, method: str, path: str, **kwargs: Any
) -> httpx.Response:
    """`method path` on the API (path under /v1), as the session's user."""
    transport = httpx.ASGITransport(app=request.app)  # type: ignore[arg-type]
    async with httpx.AsyncClient(
        transport=transport,
        base_url="http://console.internal/v1",
        auth=(session.username, session.secret),
        timeout=30,
    ) as client:
        response = await client.request(method, path, **kwargs)
    if response.status_code == 404:
        raise NotFound(path)
    if response.status_code >= 400:
        raise ApiFailure(response.status_code, _problems(response))
    return response


async def api_json(request: AnyRequest, session: Session, path: str, **params: Any) -> Any:
    """GET `path` with these query parameters: the JSON body."""
    query = {name: value for name, value in params.items() if value not in (None, "")}
    return (await api_call(request, session, "GET", path, params=query)).json()
