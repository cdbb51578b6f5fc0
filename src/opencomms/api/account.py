"""`/v1/Account`: the caller's own account, with the Standard Webhooks secret that signs
the status callbacks of its sends' `callbacks.url` (a sink's own secret signs the rest)."""

from __future__ import annotations

from typing import Any

from litestar import Request, Response, get

from opencomms.api.api_keys import require_account_credentials
from opencomms.api.common import account_of, json_response, runtime_of
from opencomms.api.errors import not_found
from opencomms.domain.clock import iso
from opencomms.store import accounts
from opencomms.store.database import Conn

__all__ = ["fetch_account"]

AnyRequest = Request[Any, Any, Any]


@get("/Account")
async def fetch_account(request: AnyRequest) -> Response[bytes]:
    require_account_credentials(request)
    sid = account_of(request)

    async def load(conn: Conn) -> tuple[Any, Any]:
        return await accounts.get_account(conn, sid), await accounts.signing_secrets(conn, sid)

    account, secrets = await runtime_of(request).db.read(load)
    if account is None or secrets is None:
        raise not_found("Account", sid)
    return json_response(
        {
            "sid": account.sid,
            "friendlyName": account.friendly_name,
            "webhookSecret": runtime_of(request).sealer.unseal(secrets.webhook_secret_sealed),
            "createdAt": iso(account.created_at),
        }
    )
