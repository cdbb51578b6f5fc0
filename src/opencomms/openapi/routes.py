"""Where the document and its docs page are served: `/v1/openapi.json` and `/docs` (Swagger
UI, vendored in assets/ with its licence: nothing is fetched from the internet). Both are
public, like the document of any public API."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from litestar import Request, Response, Router, get
from litestar.enums import MediaType
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import OpenAPIRenderPlugin
from litestar.params import FromPath
from litestar.response import File

from opencomms import __version__
from opencomms.openapi.document import finish

__all__ = ["OPENAPI_ROUTES", "PUBLIC_PATHS", "openapi_config"]

ASSETS = Path(__file__).parent / "assets"
ASSET_TYPES = {"swagger-ui-bundle.js": "text/javascript", "swagger-ui.css": "text/css"}
DOCUMENT_PATH = "/v1/openapi.json"
# the paths the Basic auth middleware lets through (regular expressions)
PUBLIC_PATHS = ["^/docs(/|$)", "^/v1/openapi\\.json$"]
STATE_KEY = "openapi_document"
PAGE = """<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>opencomms API</title>
<link rel="stylesheet" href="/docs/assets/swagger-ui.css">
</head>
<body>
<div id="swagger-ui"></div>
<script src="/docs/assets/swagger-ui-bundle.js"></script>
<script>
window.ui = SwaggerUIBundle({url: "%s", dom_id: "#swagger-ui"});
</script>
</body>
</html>
"""


def _document(request: Request[Any, Any, Any]) -> dict[str, Any]:
    """The finished document, built once per app (on its first request), with the
    server's own `[input]` limits and connectors."""
    state = request.app.state
    if STATE_KEY not in state:
        runtime = state["runtime"]
        state[STATE_KEY] = finish(
            request.app.openapi_schema.to_schema(), runtime.settings.input, list(runtime.connectors)
        )
    document: dict[str, Any] = state[STATE_KEY]
    return document


@get(DOCUMENT_PATH, exclude_from_auth=True, include_in_schema=False, sync_to_thread=False)
def openapi_document(request: Request[Any, Any, Any]) -> Response[dict[str, Any]]:
    return Response(_document(request), media_type="application/vnd.oai.openapi+json")


@get("/assets/{name:str}", include_in_schema=False, sync_to_thread=False)
def docs_asset(name: FromPath[str]) -> File | Response[bytes]:
    media_type = ASSET_TYPES.get(name)
    if media_type is None:
        return Response(b"", status_code=404)
    return File(ASSETS / name, media_type=media_type, content_disposition_type="inline")


class SwaggerPage(OpenAPIRenderPlugin):
    """`/docs`: Swagger UI on the vendored assets, reading `/v1/openapi.json`."""

    def render(self, request: Request[Any, Any, Any], openapi_schema: dict[str, Any]) -> bytes:
        return (PAGE % DOCUMENT_PATH).encode()

    def receive_router(self, router: Router) -> None:
        router.register(docs_asset)


def openapi_config() -> OpenAPIConfig:
    """Litestar's generation, its own routes under `/docs`."""
    return OpenAPIConfig(
        title="opencomms",
        version=__version__,
        path="/docs",
        render_plugins=[SwaggerPage(path="/", media_type=MediaType.HTML)],
        use_handler_docstrings=True,
    )


OPENAPI_ROUTES = [openapi_document]
