"""`/webhooks/{connector}`: where a provider (RBM, WhatsApp, Twilio) reports to its connector.

No Basic auth here: the connector checks the provider's own signature. The route hands
the request, as received, to the connector's `webhook` (connectors/base.py) and answers
what it says. A connector that cannot store what it was told (StoreUnavailable) or fails
in any other way is answered 503 with `Retry-After`: the provider sends it again later,
and nothing is lost. The body is bounded like every other (`[http] max_body_bytes`).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

import msgspec
from litestar import Request, Response, route
from litestar.params import FromPath

from opencomms.api.errors import ApiError
from opencomms.connectors.base import WebhookReceiver, WebhookRequest
from opencomms.store.errors import StoreUnavailable

__all__ = ["STATE_KEY", "ProviderWebhooks", "provider_webhook", "webhook_request"]

log = logging.getLogger(__name__)

# where the route finds its ProviderWebhooks: `app.state[STATE_KEY]`
STATE_KEY = "provider_webhooks"


class ProviderWebhooks(msgspec.Struct, frozen=True):
    """What the route needs: the running connectors by name (only those with a `webhook`
    method are reachable), the server's public URL, and the Retry-After of a 503."""

    connectors: Mapping[str, object]
    public_url: str = ""
    retry_after: str = "1"

    def receiver(self, name: str) -> WebhookReceiver | None:
        connector = self.connectors.get(name)
        if connector is None or not callable(getattr(connector, "webhook", None)):
            return None
        receiver: WebhookReceiver = connector  # type: ignore[assignment]
        return receiver


def _called_url(request: Request[Any, Any, Any], public_url: str) -> str:
    """The URL the provider called: `public_url` + path + query when the server has one
    (a proxy in front changes what this process sees), else the request's own."""
    if not public_url:
        return str(request.url)
    query = request.scope.get("query_string", b"").decode("latin-1")
    path = request.scope.get("raw_path", request.url.path.encode()).decode("latin-1")
    path = path.split("?", 1)[0]
    return public_url.rstrip("/") + path + (f"?{query}" if query else "")


async def webhook_request(request: Request[Any, Any, Any], public_url: str) -> WebhookRequest:
    """The request as the connector is given it (the body read, within the size bound)."""
    body = await request.body()
    return WebhookRequest(
        method=request.method.upper(),
        url=_called_url(request, public_url),
        query={key: value for key, value in request.query_params.items()},
        headers={name.lower(): value for name, value in request.headers.items()},
        body=body,
    )


def _retry_later(hosted: ProviderWebhooks, message: str) -> Response[bytes]:
    return ApiError(503, message, headers={"Retry-After": hosted.retry_after}).response()


@route("/webhooks/{connector:str}", http_method=["GET", "POST"], exclude_from_auth=True)
async def provider_webhook(
    request: Request[Any, Any, Any], connector: FromPath[str]
) -> Response[bytes]:
    """Hand a provider's call to the connector named in the path, and answer as it says."""
    hosted: ProviderWebhooks = request.app.state[STATE_KEY]
    receiver = hosted.receiver(connector)
    if receiver is None:
        raise ApiError(404, "No connector of this name takes webhooks.")
    incoming = await webhook_request(request, hosted.public_url)
    try:
        answer = await receiver.webhook(incoming)
    except StoreUnavailable as error:
        log.info("webhook for %s: the database is unavailable: %s", connector, error)
        return _retry_later(hosted, "The database is unavailable; the report was not taken.")
    except Exception:
        log.exception("webhook for %s: the connector failed", connector)
        return _retry_later(hosted, "The report could not be taken now.")
    return Response(answer.body, status_code=answer.status, media_type=answer.content_type)
