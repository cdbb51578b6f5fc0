"""`/v1/ApiKeys`: API keys (SK…) that authenticate in place of the account's auth token.

Only the account's own credentials may manage keys; the secret is shown once, at creation.
"""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.auth import forget_credential
from opencomms.api.common import account_of, json_body, json_response, runtime_of
from opencomms.api.errors import ApiError, FieldError, invalid, not_found, unknown_fields
from opencomms.api.paging import unknown_filters
from opencomms.api.wire import api_key_json
from opencomms.domain.clock import now_ms
from opencomms.domain.ids import API_KEY_SID_RE, new_api_key_secret, new_api_key_sid
from opencomms.domain.sender_addresses import CONTROL
from opencomms.store import accounts

__all__ = [
    "create_api_key",
    "delete_api_key",
    "list_api_keys",
    "require_account_credentials",
]

AnyRequest = Request[Any, Any, Any]


def require_account_credentials(request: AnyRequest) -> None:
    if not str(request.auth).startswith("AC"):
        raise ApiError(401, "API keys are managed with the account's SID and auth token.")


@post("/ApiKeys", status_code=201)
async def create_api_key(request: AnyRequest) -> Response[bytes]:
    require_account_credentials(request)
    # every field is optional: a bare `POST /v1/ApiKeys` (no body, no Content-Type) is fine
    body = await json_body(request) if await request.body() else {}
    errors = unknown_fields(body, {"friendlyName"})
    name = body.get("friendlyName", "")
    if not isinstance(name, str) or len(name) > 256 or CONTROL.search(name):
        errors.append(
            FieldError("friendlyName", "must be at most 256 characters, without control characters")
        )
    if errors:
        raise invalid(errors)
    sid, secret = new_api_key_sid(), new_api_key_secret()
    account = account_of(request)
    key = await runtime_of(request).db.write(
        lambda conn: accounts.insert_api_key(conn, sid, account, secret, name, now_ms())
    )
    return json_response(api_key_json(key, secret), status=201)


@get("/ApiKeys")
async def list_api_keys(request: AnyRequest) -> Response[bytes]:
    require_account_credentials(request)
    if problems := unknown_filters(request.query_params, ()):
        raise invalid(problems)
    account = account_of(request)
    keys = await runtime_of(request).db.read(lambda conn: accounts.list_api_keys(conn, account))
    return json_response({"keys": [api_key_json(key) for key in keys]})


@delete("/ApiKeys/{key_sid:str}", status_code=204)
async def delete_api_key(request: AnyRequest, key_sid: FromPath[str]) -> None:
    require_account_credentials(request)
    account = account_of(request)
    if not API_KEY_SID_RE.fullmatch(key_sid) or not await runtime_of(request).db.write(
        lambda conn: accounts.delete_api_key(conn, account, key_sid)
    ):
        raise not_found("ApiKey", key_sid)
    forget_credential(key_sid)
