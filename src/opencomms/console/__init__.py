"""The operator's console at `/`: server-rendered pages (Jinja, htmx vendored under
static/), signed in with a session cookie instead of the API's Basic auth."""

from __future__ import annotations

from pathlib import Path

from litestar import Router
from litestar.static_files import create_static_files_router

from opencomms.console import (
    content,
    messages,
    operations,
    opt_outs,
    send,
    senders,
    signin,
    sinks,
)
from opencomms.console.render import exception_handlers

__all__ = ["console_router"]

STATIC = Path(__file__).parent / "static"


def console_router() -> Router:
    """Every console page; the API's Basic auth does not apply (`exclude_from_auth`)."""
    static = create_static_files_router(
        path="/static/console", directories=[STATIC], opt={"exclude_from_auth": True}
    )
    return Router(
        "/",
        route_handlers=[
            static,
            signin.sign_in_form,
            signin.sign_in,
            signin.sign_out,
            operations.operations_page,
            operations.progress_stream,
            operations.operation_page,
            messages.messages_page,
            messages.message_page,
            send.send_form,
            send.send_message,
            senders.senders_page,
            sinks.sinks_page,
            sinks.sink_page,
            sinks.replay,
            opt_outs.opt_outs_page,
            opt_outs.add_opt_out,
            opt_outs.remove_opt_out,
            content.content_page,
        ],
        opt={"exclude_from_auth": True},
        exception_handlers=exception_handlers,
        include_in_schema=False,
    )
