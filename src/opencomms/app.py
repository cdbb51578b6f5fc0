"""The application, composed in one place: routes, errors, authentication, lifespan."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response, Router, get
from litestar.datastructures import State
from litestar.middleware import DefineMiddleware

from opencomms.api import (
    account,
    admission,
    api_keys,
    cancel,
    content,
    event_sinks,
    event_subscriptions,
    message_list,
    messages,
    metrics,
    operation_errors,
    operations,
    opt_outs,
    provider_webhooks,
    sender_pool_operations,
    sender_pools,
    sender_search,
    senders,
    sinks,
)
from opencomms.api.auth import BasicAuthMiddleware
from opencomms.api.common import refuse_unstorable_parameters
from opencomms.api.errors import exception_handlers
from opencomms.api.twilio_form import EVENTS_PREFIX
from opencomms.console import console_router
from opencomms.engine.runtime import Runtime
from opencomms.metrics.requests import RequestCounter
from opencomms.openapi import OPENAPI_ROUTES, PUBLIC_PATHS, openapi_config
from opencomms.settings import Settings
from opencomms.store.database import ping
from opencomms.store.errors import StoreUnavailable

__all__ = ["create_app"]

RESOURCES = [
    message_list.list_messages,
    message_list.search_messages,
    message_list.seek_message,
    messages.fetch_message,
    operations.list_operations,
    operations.fetch_operation,
    operation_errors.list_operation_errors,
    cancel.cancel_whole_operation,
    cancel.cancel_one_message,
    sender_search.search_senders,
    sender_search.resolve_senders,
    senders.create_sender,
    senders.list_senders,
    senders.fetch_sender,
    senders.update_sender,
    senders.delete_sender,
    sender_pool_operations.list_pool_operations_route,
    sender_pool_operations.fetch_pool_operation,
    sender_pools.create_pool,
    sender_pools.list_pools,
    sender_pools.fetch_pool,
    sender_pools.update_pool,
    sender_pools.delete_pool,
    sender_pools.list_pool_senders,
    sender_pools.add_pool_senders,
    sender_pools.remove_pool_sender,
    api_keys.create_api_key,
    api_keys.list_api_keys,
    api_keys.delete_api_key,
    opt_outs.create_opt_out,
    opt_outs.list_opt_outs,
    opt_outs.fetch_opt_out,
    opt_outs.delete_opt_out,
    account.fetch_account,
    content.create_content,
    content.list_contents,
    content.fetch_content,
    content.delete_content,
    sinks.create_sink,
    sinks.list_sinks,
    sinks.fetch_sink,
    sinks.delete_sink,
    sinks.list_sink_deliveries,
    sinks.replay_sink,
    sinks.create_subscription,
    sinks.list_subscriptions,
    sinks.fetch_subscription,
    sinks.delete_subscription,
]


@get("/healthz", exclude_from_auth=True)
async def healthz(request: Request[Any, Any, Any]) -> Response[dict[str, str]]:
    """200 while the database answers; 503 with Retry-After while it does not (a disk
    that is full but readable still answers: reads are served, writes are 503)."""
    runtime: Runtime = request.app.state.runtime
    try:
        await runtime.db.read(ping)
    except StoreUnavailable:
        retry_after = runtime.settings.faults.retry_after_header
        return Response(
            {"status": "unavailable", "database": "unavailable"},
            status_code=503,
            headers={"Retry-After": retry_after},
        )
    return Response({"status": "ok", "database": "ok"})


def _api(prefix: str, settings: Settings) -> Router:
    """The API under `prefix`: the send takes bodies up to `max_send_body_bytes` (10,000
    recipients with their variables), every other endpoint up to `max_body_bytes`."""
    send = Router(
        "/",
        route_handlers=[messages.send_messages],
        request_max_body_size=settings.http.max_send_body_bytes,
    )
    return Router(prefix, route_handlers=[send, *RESOURCES])


EVENT_STREAMS = [
    event_sinks.create_event_sink,
    event_sinks.list_event_sinks,
    event_sinks.fetch_event_sink,
    event_sinks.update_event_sink,
    event_sinks.delete_event_sink,
    event_sinks.test_event_sink,
    event_sinks.validate_event_sink,
    event_subscriptions.create_event_subscription,
    event_subscriptions.list_event_subscriptions,
    event_subscriptions.fetch_event_subscription,
    event_subscriptions.update_event_subscription,
    event_subscriptions.delete_event_subscription,
    event_subscriptions.list_subscribed_events,
    event_subscriptions.create_subscribed_event,
    event_subscriptions.fetch_subscribed_event,
    event_subscriptions.update_subscribed_event,
    event_subscriptions.delete_subscribed_event,
]


def _webhooks(runtime: Runtime) -> provider_webhooks.ProviderWebhooks:
    """The connectors `/webhooks/{name}` reaches: the runtime's own (a mapping of its own,
    so that a test may host a connector there without the engine running it)."""
    settings = runtime.settings
    return provider_webhooks.ProviderWebhooks(
        connectors=dict(runtime.connectors),
        public_url=settings.server.public_url,
        retry_after=settings.faults.retry_after_header,
    )


def create_app(
    settings: Settings,
    *,
    announce: Callable[[str], None] | None = None,
    background: bool = True,
) -> Litestar:
    """The app for `settings`; `announce` is where a new account's auth token is shown,
    once, and `background` whether the process runs the background workers too (see
    Runtime)."""
    runtime = Runtime(settings, announce=announce, background=background)

    @asynccontextmanager
    async def lifespan(_: Litestar) -> AsyncIterator[None]:
        await runtime.start()
        try:
            yield
        finally:
            await runtime.stop()

    return Litestar(
        route_handlers=[
            healthz,
            *OPENAPI_ROUTES,
            metrics.scrape,
            provider_webhooks.provider_webhook,
            _api("/v1", settings),
            _api("/preview", settings),
            # Twilio's Event Streams API, in its own dialect, as at events.twilio.com/v1
            Router(EVENTS_PREFIX, route_handlers=EVENT_STREAMS),
            console_router(),
        ],
        middleware=[
            RequestCounter,
            DefineMiddleware(BasicAuthMiddleware, exclude=["^/healthz$", *PUBLIC_PATHS]),
        ],
        exception_handlers=exception_handlers,  # type: ignore[arg-type]
        before_request=refuse_unstorable_parameters,
        lifespan=[lifespan],
        state=State(
            {
                "runtime": runtime,
                provider_webhooks.STATE_KEY: _webhooks(runtime),
                admission.STATE_KEY: admission.Admission(settings.limits),
            }
        ),
        request_max_body_size=settings.http.max_body_bytes,
        openapi_config=openapi_config(),
        debug=False,
    )
