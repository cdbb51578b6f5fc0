"""The RBM peer's HTTP API, a Litestar app over a `Platform`: the token endpoint, and
`phones.agentMessages.create`, `phones.agentMessages.delete` and `phones.getCapabilities`
under `/v1`, each refusing what Google's API refuses, with Google's error bodies."""

from __future__ import annotations

import asyncio
import json
import re
import time
import uuid
from typing import Any

from litestar import Litestar, Request, Response, delete, get, post
from litestar.datastructures import State
from litestar.exceptions import MethodNotAllowedException, NotFoundException

from tests.support.rbm_peer.errors import google_error, invalid_argument, oauth_error
from tests.support.rbm_peer.keys import GrantError
from tests.support.rbm_peer.platform import FEATURES, Platform
from tests.support.rbm_peer.records import Accepted
from tests.support.rbm_peer.schema import E164, Invalid, validate_agent_message

__all__ = ["build_app"]

AnyResponse = Response[Any]
# the standard parameters every Google API takes besides its own
SYSTEM_PARAMETERS = {"$.xgafv", "alt", "callback", "fields", "key", "prettyPrint", "quotaUser"}
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")


def _platform(state: State) -> Platform:
    platform: Platform = state.platform
    return platform


@post("/token", status_code=200)
async def token(request: Request[Any, Any, State], state: State) -> AnyResponse:
    platform = _platform(state)
    script = platform.take_token_script()
    if script is not None:
        return oauth_error("internal_failure", "Scripted failure.", script.status)
    form = {key: str(value) for key, value in (await request.form()).items()}
    try:
        return Response(platform.grant(form), status_code=200)
    except GrantError as refused:
        return oauth_error(refused.error, refused.description)


def _query_refusal(request: Request[Any, Any, State], allowed: set[str]) -> AnyResponse | None:
    """Google's front end refuses a query parameter the method does not have."""
    for name in request.query_params:
        if name not in allowed and name not in SYSTEM_PARAMETERS:
            return invalid_argument(
                f'Invalid JSON payload received. Unknown name "{name}": Cannot bind query '
                f"parameter. Field '{name}' could not be found in request message."
            )
    return None


def _refusal(
    platform: Platform, request: Request[Any, Any, State], allowed: set[str]
) -> AnyResponse | None:
    refused = platform.authorize(request.headers.get("authorization"))
    if refused is not None:
        code, message = refused
        headers = {"WWW-Authenticate": 'Bearer realm="https://accounts.google.com/"'}
        return google_error(code, message, headers=headers if code == 401 else None)
    refused_query = _query_refusal(request, allowed | {"agentId"})
    if refused_query is not None:
        return refused_query
    agent_id = request.query_params.get("agentId")
    if not agent_id:
        return invalid_argument("agentId is required.", "agent_id")
    if agent_id != platform.agent_id:
        return google_error(403, "The caller does not have permission")
    return None


def _phone_refusal(phone: str) -> AnyResponse | None:
    if not E164.match(phone):
        message = f"Invalid phone number: {phone!r} is not in E.164 format."
        return invalid_argument(message, "parent")
    return None


def _id_refusal(message_id: str) -> AnyResponse | None:
    if not message_id:
        return invalid_argument("messageId is required.", "message_id")
    if not UUID.match(message_id):
        return invalid_argument(f"messageId {message_id!r} is not a UUID (RFC 4122).", "message_id")
    return None


async def _body(request: Request[Any, Any, State]) -> tuple[Any, AnyResponse | None]:
    raw = await request.body()
    try:
        body = json.loads(raw or b"null")
    except ValueError:
        return None, invalid_argument("Invalid JSON payload received. Unexpected token.")
    try:
        validate_agent_message(body, time.time())
    except Invalid as invalid:
        return None, invalid_argument(invalid.description, invalid.field)
    return body, None


async def _create(
    platform: Platform, request: Request[Any, Any, State], phone: str, message_id: str
) -> AnyResponse:
    refused = (
        _refusal(platform, request, {"messageId"})
        or _phone_refusal(phone)
        or _id_refusal(message_id)
    )
    if refused is not None:
        return refused
    body, refused = await _body(request)
    if refused is not None:
        return refused
    script = platform.take_script(phone)
    if script is not None and not script.after_accept:
        return google_error(script.status)
    earlier = platform.known(message_id)
    if earlier is not None:
        return _duplicate(platform, earlier)
    if not platform.capable(phone):
        return google_error(404, "Requested entity was not found.")
    message = platform.accept(phone, message_id, body)
    if platform.options.events_before_answer:
        await platform.pusher.push_now(platform.reach(message_id))
    if script is not None:
        return google_error(script.status)
    return Response(platform.resource(message), status_code=200)


def _duplicate(platform: Platform, earlier: Accepted) -> AnyResponse:
    """A messageId used before: the message is not queued again."""
    if platform.options.duplicate_status == 200:
        return Response(platform.resource(earlier), status_code=200)
    return google_error(409, "Requested entity already exists")


@post("/v1/phones/{phone:str}/agentMessages", status_code=200)
async def create_agent_message(request: Request[Any, Any, State], state: State) -> AnyResponse:
    platform = _platform(state)
    phone: str = request.path_params["phone"]
    message_id: str = request.query_params.get("messageId") or ""
    with platform.lock:
        platform.records.posts[message_id] += 1
    answer = await _create(platform, request, phone, message_id)
    if platform.options.answer_delay:
        await asyncio.sleep(platform.options.answer_delay)
    with platform.lock:
        platform.records.answers.append((message_id, phone, answer.status_code or 200))
    return answer


@delete("/v1/phones/{phone:str}/agentMessages/{message_id:str}", status_code=200)
async def revoke_agent_message(request: Request[Any, Any, State], state: State) -> AnyResponse:
    platform = _platform(state)
    phone, message_id = request.path_params["phone"], request.path_params["message_id"]
    refused = _refusal(platform, request, set()) or _phone_refusal(phone)
    if refused is not None:
        return refused
    if platform.revoke(phone, message_id) == 404:
        return google_error(404, "Requested entity was not found.")
    return Response({}, status_code=200)


@get("/v1/phones/{phone:str}/capabilities")
async def capabilities(request: Request[Any, Any, State], state: State) -> AnyResponse:
    platform = _platform(state)
    phone = request.path_params["phone"]
    refused = _refusal(platform, request, {"requestId"}) or _phone_refusal(phone)
    if refused is not None:
        return refused
    request_id = request.query_params.get("requestId", "")
    try:
        uuid.UUID(request_id)
    except ValueError:
        return invalid_argument("requestId must be a UUID (RFC 4122).", "request_id")
    if not platform.capable(phone):
        return google_error(404, "Requested entity was not found.")
    return Response({"features": list(FEATURES)}, status_code=200)


def _no_route(request: Request[Any, Any, State], _: Exception) -> Response[str]:
    """Google's front end answers an unknown URL or method with an HTML 404 page, not
    with the API's JSON NOT_FOUND: a mistaken URL is not "not RCS-capable"."""
    page = (
        "<!DOCTYPE html><html lang=en><title>Error 404 (Not Found)!!1</title>"
        f"<p><b>404.</b> <ins>That's an error.</ins><p>The requested URL "
        f"<code>{request.url.path}</code> was not found on this server."
    )
    return Response(page, status_code=404, media_type="text/html")


def build_app(platform: Platform) -> Litestar:
    return Litestar(
        route_handlers=[token, create_agent_message, revoke_agent_message, capabilities],
        state=State({"platform": platform}),
        exception_handlers={NotFoundException: _no_route, MethodNotAllowedException: _no_route},
        debug=False,
        logging_config=None,
    )
