"""The OpenAPI 3.1 document of the API (`/v1/openapi.json`) and its docs page (`/docs`)."""

from opencomms.openapi.routes import OPENAPI_ROUTES, PUBLIC_PATHS, openapi_config

__all__ = ["OPENAPI_ROUTES", "PUBLIC_PATHS", "openapi_config"]
