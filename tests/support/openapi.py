"""Reading `/v1/openapi.json` in tests: the operation a request was answered by, and
whether the answer is documented there (its status, and its body against its schema), and
the request's JSON or form body (against its request schema)."""

from __future__ import annotations

import json
import re
import urllib.parse
from typing import Any

import httpx
import jsonschema

from tests.support.server import ThreadServer

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def document_of(server: ThreadServer) -> dict[str, Any]:
    answer = httpx.get(server.url + "/v1/openapi.json")  # public: no credentials
    assert answer.status_code == 200, answer.text
    document: dict[str, Any] = answer.json()
    return document


def template_of(document: dict[str, Any], method: str, path: str) -> str:
    """The path template of the operation that serves `method` on the concrete `path`:
    of those matching, the one with the fewest parameters, as the router prefers
    (`/v1/Messages/Operations` is not `/v1/Messages/{message_id}`)."""
    matching = [
        template
        for template, item in document["paths"].items()
        if method.lower() in item and re.fullmatch(re.sub(r"\{[^}]+\}", "[^/]+", template), path)
    ]
    assert matching, f"{method} {path} is not in the document"
    return min(matching, key=lambda template: template.count("{"))


def operation_for(document: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation whose path template matches the concrete `path`."""
    operation: dict[str, Any] = document["paths"][template_of(document, method, path)]
    return operation[method.lower()]


def assert_documented(document: dict[str, Any], answer: httpx.Response) -> None:
    """The answer's status is documented for its operation and its body fits the schema."""
    request = answer.request
    operation = operation_for(document, request.method, request.url.path)
    status = str(answer.status_code)
    responses = operation["responses"]
    assert status in responses, (request.method, request.url.path, status, answer.text)
    content = responses[status].get("content")
    if not content:
        assert answer.content == b"", answer.text
        return
    media_type = answer.headers["content-type"].split(";")[0]
    assert media_type in content or "*/*" in content, (media_type, list(content))
    schema = (content.get(media_type) or content["*/*"])["schema"]
    if media_type == "application/json":
        error = _schema_errors(document, schema, answer.json())
        assert error is None, (request.method, request.url.path, status, error)


def _schema_errors(document: dict[str, Any], schema: dict[str, Any], value: Any) -> Any:
    rooted = {**schema, "components": document["components"]}
    return jsonschema.exceptions.best_match(
        jsonschema.Draft202012Validator(rooted).iter_errors(value)
    )


def assert_request_documented(document: dict[str, Any], request: httpx.Request) -> bool:
    """A JSON or form body sent validates against its operation's documented request
    schema; False when the request has no body."""
    media_type = request.headers.get("content-type", "").split(";")[0]
    if media_type not in (JSON, FORM):
        return False
    operation = operation_for(document, request.method, request.url.path)
    assert "requestBody" in operation, (request.method, request.url.path)
    schema = operation["requestBody"]["content"][media_type]["schema"]
    if media_type == JSON:
        body = json.loads(request.content)
    else:
        body = _form(document, schema, request.content.decode())
    error = _schema_errors(document, schema, body)
    assert error is None, (request.method, request.url.path, body, error)
    return True


def _form(document: dict[str, Any], schema: dict[str, Any], encoded: str) -> dict[str, Any]:
    """A form as its schema sees it: a parameter documented as a list keeps all its
    values, any other its only one (or all, when repeated: the schema then refuses it)."""
    named = document["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    properties = named.get("properties", {})
    values = urllib.parse.parse_qs(encoded, keep_blank_values=True)
    return {
        name: listed
        if properties.get(name, {}).get("type") == "array" or len(listed) > 1
        else listed[0]
        for name, listed in values.items()
    }
