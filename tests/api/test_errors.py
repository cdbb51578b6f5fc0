"""Errors: every failure answers the contract's body, changes nothing, and no input is a 500.

Transport-level problems (JSON, Content-Type, size), routing, authentication, the list
endpoints' query parameters and unknown ids; the send body's fields are checked field by
field in test_send_validation.py. `assert_error` and `assert_nothing_accepted` are the
checks a client would make, shared by both files.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from tests.support.server import ThreadServer

ERROR_KEYS = {"code", "message", "more_info", "moreInfo", "status", "errors"}
# the codes the server documents for each status (api/errors.py)
CODES = {400: 20001, 401: 20003, 404: 20404, 405: 20405, 413: 20413, 415: 20415}
VALID = {"to": [{"address": "+14155550100", "channel": "PHONE"}], "content": {"text": "Hi"}}
WELL_FORMED_OPERATION = "comms_operation_01h2xcejqtf2nbrexx3vqjhp41"
WELL_FORMED_MESSAGE = "comms_message_01h9krwprkeee8fzqspvwy6nq8"
_JSON = {"Content-Type": "application/json"}


def assert_error(response: httpx.Response, status: int) -> set[str]:
    """The response is the contract's error body for `status`; the fields it names."""
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    body = response.json()
    assert set(body) == ERROR_KEYS, body
    assert body["status"] == status
    assert body["code"] == CODES.get(status, body["code"])
    assert isinstance(body["code"], int)
    assert isinstance(body["message"], str)
    assert body["message"]
    assert body["moreInfo"].startswith("https://")
    assert str(body["code"]) in body["moreInfo"]
    assert isinstance(body["errors"], list)
    if status == 400:
        assert body["errors"], "a 400 names each problem"
    for item in body["errors"]:
        assert set(item) == {"field", "message"}, item
        assert isinstance(item["field"], str)
        assert isinstance(item["message"], str)
        assert item["field"]
        assert item["message"]
    return {item["field"] for item in body["errors"]}


def assert_invalid(response: httpx.Response, *fields: str) -> None:
    """A 400 naming exactly `fields`."""
    assert assert_error(response, 400) == set(fields), response.text


def assert_nothing_accepted(api: httpx.Client) -> None:
    """The account still has no operation and no message."""
    operations = api.get("/Messages/Operations")
    assert operations.status_code == 200, operations.text
    assert operations.json()["operations"] == []
    messages = api.get("/Messages")
    assert messages.status_code == 200, messages.text
    assert messages.json()["messages"] == []


def post_raw(api: httpx.Client, content: bytes | str, content_type: str | None) -> httpx.Response:
    headers = {"Content-Type": content_type} if content_type else {}
    return api.post("/Messages", content=content, headers=headers)


# -- the body is not a JSON object ----------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        b"{",
        b'{"to": [}',
        b"",
        b"not json",
        b"{'to': []}",
        b'{"to": [], }',
        b'{"a": 1} trailing',
        b"\xff\xfe{}",
        b'{"text": "\\ud800"}',
        b"[" * 5000 + b"]" * 5000,
        b'{"to":' * 5000 + b"1" + b"}" * 5000,
    ],
    ids=[
        "truncated",
        "broken-array",
        "empty",
        "bare-word",
        "single-quotes",
        "trailing-comma",
        "trailing-data",
        "not-utf8",
        "lone-surrogate",
        "deeply-nested-array",
        "deeply-nested-object",
    ],
)
def test_a_body_that_is_not_json_is_a_400_naming_the_body(
    api: httpx.Client, content: bytes
) -> None:
    response = post_raw(api, content, "application/json")

    assert_invalid(response, "body")
    assert_nothing_accepted(api)


@pytest.mark.parametrize("value", [[VALID], "hello", 42, 1.5, True, None])
def test_json_that_is_not_an_object_is_a_400_naming_the_body(api: httpx.Client, value: Any) -> None:
    response = post_raw(api, json.dumps(value), "application/json")

    assert_invalid(response, "body")
    assert_nothing_accepted(api)


def test_a_number_out_of_range_is_a_400_not_a_500(api: httpx.Client) -> None:
    body = json.dumps(VALID)[:-1] + ', "tags": {"n": 1e400}}'

    response = post_raw(api, body, "application/json")

    assert_invalid(response, "body")
    assert_nothing_accepted(api)


def test_the_charset_parameter_of_json_is_accepted(api: httpx.Client) -> None:
    response = post_raw(api, json.dumps(VALID), "application/json; charset=utf-8")

    assert response.status_code == 202, response.text


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", None, "application/x-www-form-urlencoded", "multipart/form-data; boundary=x"],
)
def test_a_body_that_is_not_declared_json_is_a_415(
    api: httpx.Client, content_type: str | None
) -> None:
    response = post_raw(api, json.dumps(VALID), content_type)

    assert_error(response, 415)
    assert_nothing_accepted(api)


def test_a_form_body_is_a_415(api: httpx.Client) -> None:
    response = api.post("/Messages", data={"to": "+14155550100", "content": "Hi"})

    assert_error(response, 415)
    assert_nothing_accepted(api)


# -- size -----------------------------------------------------------------------------------


def _oversized(server: ThreadServer) -> bytes:
    """A valid-looking JSON body 1 MiB over the server's limit."""
    limit = server.settings.http.max_send_body_bytes
    text = "x" * (limit + 1024 * 1024)
    return json.dumps({**VALID, "content": {"text": text}}).encode()


def test_a_body_over_the_limit_is_a_413(server: ThreadServer, api: httpx.Client) -> None:
    response = post_raw(api, _oversized(server), "application/json")

    assert_error(response, 413)
    assert_nothing_accepted(api)


def test_a_streamed_body_over_the_limit_is_a_413(server: ThreadServer, api: httpx.Client) -> None:
    body = _oversized(server)

    def chunks() -> Iterator[bytes]:
        for start in range(0, len(body), 1024 * 1024):
            yield body[start : start + 1024 * 1024]

    # a generator has no length: httpx sends it chunked, without Content-Length
    request = api.build_request(
        "POST", "/Messages", content=chunks(), headers={"Content-Type": "application/json"}
    )
    assert "content-length" not in request.headers
    assert request.headers["transfer-encoding"] == "chunked"

    response = api.send(request)

    assert_error(response, 413)
    assert_nothing_accepted(api)


def test_a_body_just_under_the_limit_is_read(server: ThreadServer, api: httpx.Client) -> None:
    # 2 MiB of padding: read whole, then refused for its content, not its size
    body = json.dumps({**VALID, "content": {"text": "x" * (2 * 1024 * 1024)}})
    assert len(body) < server.settings.http.max_send_body_bytes

    response = post_raw(api, body, "application/json")

    assert_invalid(response, "content.text")
    assert_nothing_accepted(api)


# -- routes and methods ---------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/Nope", "/Messages/Operations/comms_operation_x/Nope", "/messages", "/v2/Messages"],
)
def test_an_unknown_route_is_a_404(api: httpx.Client, path: str) -> None:
    assert_error(api.get(path), 404)


def test_an_unknown_route_outside_the_api_is_a_404(server: ThreadServer) -> None:
    assert_error(httpx.get(server.url + "/nothing/here"), 404)


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("DELETE", "/Messages"),
        ("PUT", "/Messages"),
        ("PATCH", "/Messages"),
        ("POST", "/Messages/Operations"),
        ("DELETE", f"/Messages/Operations/{WELL_FORMED_OPERATION}"),
        ("PUT", f"/Messages/{WELL_FORMED_MESSAGE}"),
    ],
)
def test_a_wrong_method_is_a_405(api: httpx.Client, method: str, path: str) -> None:
    response = api.request(method, path, json=VALID)

    assert_error(response, 405)
    assert "GET" in response.headers["Allow"]
    assert_nothing_accepted(api)


# -- authentication -------------------------------------------------------------------------


def _basic(text: str) -> str:
    return "Basic " + base64.b64encode(text.encode()).decode()


def _unauthorized_headers(account: tuple[str, str]) -> list[dict[str, str]]:
    sid, token = account
    return [
        {},
        {"Authorization": _basic(f"{sid}:{'0' * 32}")},
        {"Authorization": _basic(f"{sid}:")},
        {"Authorization": _basic(f"AC{'0' * 32}:{token}")},
        {"Authorization": _basic(f"{sid}{token}")},
        {"Authorization": _basic(f"{sid}\x00:{token}")},
        {"Authorization": _basic(f"{sid}:{token}\x00")},
        {"Authorization": _basic("é:ü")},
        {"Authorization": "Basic !!!not-base64"},
        {"Authorization": "Basic " + base64.b64encode(b"\xff\xfe:\xff").decode()},
        {"Authorization": "Basic"},
        {"Authorization": f"Bearer {token}"},
        {"Authorization": _basic(f"{sid}:{token}").replace("Basic", "Digest")},
    ]


@pytest.mark.parametrize("case", range(13))
@pytest.mark.parametrize(
    ("method", "path"),
    [("POST", "/Messages"), ("GET", "/Messages"), ("GET", "/Messages/Operations")],
)
def test_missing_or_wrong_credentials_are_a_401_with_basic_challenge(
    server: ThreadServer, account: tuple[str, str], method: str, path: str, case: int
) -> None:
    headers = _unauthorized_headers(account)[case]

    response = httpx.request(method, server.url + "/v1" + path, json=VALID, headers=headers)

    assert_error(response, 401)
    assert response.headers["WWW-Authenticate"].startswith("Basic")
    with httpx.Client(base_url=server.url + "/v1", auth=account) as api:
        assert_nothing_accepted(api)


def test_an_authorization_header_with_non_ascii_bytes_is_a_401(server: ThreadServer) -> None:
    headers = [(b"Authorization", b"Basic \xff\xfe")]

    response = httpx.get(server.url + "/v1/Messages", headers=headers)

    assert_error(response, 401)


def test_the_credentials_of_another_account_see_nothing_of_this_one(
    server: ThreadServer, api: httpx.Client
) -> None:
    operation_id = api.post("/Messages", json=VALID).json()["operationId"]
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as other:
        assert_error(other.get(f"/Messages/Operations/{operation_id}"), 404)
        assert_nothing_accepted(other)


# -- unknown ids ----------------------------------------------------------------------------


@pytest.mark.parametrize(
    "identifier",
    [
        WELL_FORMED_MESSAGE,
        "comms_message_00000000000000000000000000",
        "comms_message_x",
        "comms_message_01H9KRWPRKEEE8FZQSPVWY6NQ8",
        "comms_operation_01h2xcejqtf2nbrexx3vqjhp41",
        "SM" + "0" * 32,
        "%00",
        "%C3%A9",
        "x" * 2000,
    ],
)
def test_an_unknown_message_is_a_404(api: httpx.Client, identifier: str) -> None:
    assert_error(api.get(f"/Messages/{identifier}"), 404)


@pytest.mark.parametrize(
    "identifier",
    [
        WELL_FORMED_OPERATION,
        "comms_operation_00000000000000000000000000",
        "comms_operation_x",
        "comms_operation_01H2XCEJQTF2NBREXX3VQJHP41",
        WELL_FORMED_MESSAGE,
        "%00",
        "x" * 2000,
    ],
)
def test_an_unknown_operation_is_a_404(api: httpx.Client, identifier: str) -> None:
    assert_error(api.get(f"/Messages/Operations/{identifier}"), 404)


# -- list parameters ------------------------------------------------------------------------


def _token(payload: bytes) -> str:
    return base64.urlsafe_b64encode(payload).decode().rstrip("=")


BAD_PAGE_TOKENS = [
    "not-a-token",
    "!!!",
    "é",
    _token(b"not json"),
    _token(b"[]"),
    _token(b'{"b": 1}'),
    _token(b'{"x": "y"}'),
    _token(b'{"b": "\\u0000"}'),
    _token(b'{"b": "comms_message_\\u0000"}'),
    _token(b'{"b": "' + b"x" * 5000 + b'"}'),
]


@pytest.mark.parametrize("path", ["/Messages", "/Messages/Operations"])
@pytest.mark.parametrize("token", BAD_PAGE_TOKENS)
def test_a_page_token_the_api_did_not_issue_is_a_400(
    api: httpx.Client, path: str, token: str
) -> None:
    assert_invalid(api.get(path, params={"pageToken": token}), "pageToken")


@pytest.mark.parametrize("path", ["/Messages", "/Messages/Operations"])
@pytest.mark.parametrize("size", ["0", "1001", "x", "-1", "1.5", "", "²", "١٠", "9" * 40])
def test_a_page_size_outside_1_to_1000_is_a_400(api: httpx.Client, path: str, size: str) -> None:
    assert_invalid(api.get(path, params={"pageSize": size}), "pageSize")


@pytest.mark.parametrize("size", ["1", "1000", "50"])
def test_page_sizes_within_bounds_are_accepted(api: httpx.Client, size: str) -> None:
    assert api.get("/Messages", params={"pageSize": size}).status_code == 200
    assert api.get("/Messages/Operations", params={"pageSize": size}).status_code == 200


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"status": "SHIPPED"}, {"status"}),
        ({"status": ""}, {"status"}),
        ({"status": "\x00"}, {"status"}),
        ({"channel": "PHONE"}, {"channel"}),
        ({"channel": "carrier-pigeon"}, {"channel"}),
        ({"operationId": "comms_operation_x"}, {"operationId"}),
        ({"operationId": WELL_FORMED_MESSAGE}, {"operationId"}),
        ({"operation_id": "x"}, {"operationId"}),
        ({"startDate": "yesterday"}, {"startDate"}),
        ({"startDate": "2024-01-01T00:00:00"}, {"startDate"}),
        ({"endDate": "2024-13-01T00:00:00Z"}, {"endDate"}),
        (
            {"startDate": "2024-02-01T00:00:00Z", "endDate": "2024-01-01T00:00:00Z"},
            {"endDate"},
        ),
        ({"tags": "no-colon"}, {"tags"}),
        ({"tags": "a:\x00"}, {"tags"}),
        ({"tags": "a b:c"}, {"tags"}),
        ({"tags": "".join(f"k{n}:v;" for n in range(11))}, {"tags"}),
        (
            {
                "pageSize": "0",
                "pageToken": "x",
                "status": "x",
                "channel": "x",
                "operationId": "x",
                "startDate": "x",
                "endDate": "y",
            },
            {"pageSize", "pageToken", "status", "channel", "operationId", "startDate", "endDate"},
        ),
    ],
)
def test_bad_message_list_filters_are_a_400_naming_each(
    api: httpx.Client, params: dict[str, str], fields: set[str]
) -> None:
    assert_invalid(api.get("/Messages", params=params), *fields)


@pytest.mark.parametrize(
    ("params", "fields"),
    [
        ({"status": "QUEUED"}, {"status"}),
        ({"startDate": "nope"}, {"startDate"}),
        ({"endDate": "2024-01-01"}, {"endDate"}),
        (
            {"startDate": "2024-02-01T00:00:00Z", "endDate": "2024-01-01T00:00:00+00:00"},
            {"endDate"},
        ),
        ({"pageSize": "1001", "status": "nope"}, {"pageSize", "status"}),
    ],
)
def test_bad_operation_list_filters_are_a_400_naming_each(
    api: httpx.Client, params: dict[str, str], fields: set[str]
) -> None:
    assert_invalid(api.get("/Messages/Operations", params=params), *fields)


@pytest.mark.parametrize(
    "params",
    [
        {"status": "delivered"},
        {"channel": "sms"},
        {"startDate": "1900-01-01T00:00:00Z"},
        {"startDate": "0001-01-01T00:00:00+01:00"},
        {"endDate": "9999-12-31T23:59:59-14:00"},
        {"startDate": "1970-01-01T00:00:00Z", "endDate": "9999-12-31T23:59:59Z"},
        {"tags": "k:v;k2:v2;"},
        {"operation_id": WELL_FORMED_OPERATION},
    ],
)
def test_odd_but_valid_message_filters_answer_an_empty_page(
    request: pytest.FixtureRequest, server: ThreadServer, api: httpx.Client, params: dict[str, str]
) -> None:
    response = api.get("/Messages", params=params)

    assert response.status_code == 200, response.text
    assert response.json()["messages"] == []


@pytest.mark.parametrize(
    "params",
    [
        {"status": "completed"},
        {"startDate": "1900-01-01T00:00:00Z"},
        {"endDate": "9999-12-31T23:59:59-14:00"},
    ],
)
def test_odd_but_valid_operation_filters_answer_an_empty_page(
    api: httpx.Client, params: dict[str, str]
) -> None:
    response = api.get("/Messages/Operations", params=params)

    assert response.status_code == 200, response.text
    assert response.json()["operations"] == []


def test_a_page_token_round_trips(api: httpx.Client) -> None:
    for _ in range(3):
        assert api.post("/Messages", json=VALID).status_code == 202

    first = api.get("/Messages/Operations", params={"pageSize": 2}).json()
    token = first["pagination"]["next"]
    second = api.get("/Messages/Operations", params={"pageSize": 2, "pageToken": token})

    assert second.status_code == 200, second.text
    assert len(first["operations"]) == 2
    assert len(second.json()["operations"]) == 1


# -- unknown fields -------------------------------------------------------------------------


@pytest.mark.parametrize(
    "path",
    ["/Messages", "/Senders", "/SenderPools", "/OptOuts", "/ApiKeys", "/Sinks", "/Subscriptions"],
)
def test_an_unknown_field_with_an_empty_name_is_named(api: httpx.Client, path: str) -> None:
    # every problem names a field: an empty key is shown as "" (found by the fuzz run)
    response = api.post(path, json={"": "x"})

    assert '""' in assert_error(response, 400)


# -- the /preview alias ---------------------------------------------------------------------


def test_errors_under_preview_have_the_same_body(server: ThreadServer, api: httpx.Client) -> None:
    preview = server.url + "/preview"

    assert_invalid(api.post(preview + "/Messages", json={"to": []}), "to", "content")
    assert_error(api.post(preview + "/Messages", content=b"{}"), 415)
    assert_error(api.get(preview + "/Messages/" + WELL_FORMED_MESSAGE), 404)
    assert_error(api.delete(preview + "/Messages"), 405)
    assert_error(httpx.get(preview + "/Messages"), 401)
    assert_invalid(api.get(preview + "/Messages", params={"pageSize": "0"}), "pageSize")
    assert_nothing_accepted(api)


# -- no input is a 500 ----------------------------------------------------------------------

FIELD_NAMES = [
    "to",
    "content",
    "from",
    "schedule",
    "callbacks",
    "tags",
    "address",
    "addresses",
    "channel",
    "variables",
    "contactId",
    "text",
    "media",
    "modules",
    "url",
    "rcs",
    "sms",
    "whatsapp",
    "email",
    "senderId",
    "senderPoolId",
    "sendAt",
]
PLAUSIBLE_STRINGS = [
    "PHONE",
    "phone",
    "WHATSAPP",
    "EMAIL",
    "SMS",
    "+14155550100",
    "whatsapp:+14155550100",
    "a@example.com",
    "2030-01-01T00:00:00Z",
    "2030-01-01T00:00:00",
    "https://example.com/a.png",
    "Hi {{name}}",
    "{% if x %}",
    "comms_sender_01h2xcejqtf2nbrexx3vqjhp41",
    "",
    "\x00",
]
scalars = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=20)
    | st.sampled_from(PLAUSIBLE_STRINGS)
)
keys = st.sampled_from(FIELD_NAMES) | st.text(max_size=10)
json_values = st.recursive(
    scalars,
    lambda children: st.lists(children, max_size=5) | st.dictionaries(keys, children, max_size=6),
    max_leaves=40,
)
# the real shape, each part valid or not: deep checks are reached, and some bodies are sent
leaf = st.sampled_from(PLAUSIBLE_STRINGS) | json_values


def valid_or(valid: list[Any], other: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    """One of `valid` three times in four, else anything from `other`."""
    good = st.sampled_from(valid)
    return st.one_of(good, good, good, other)


address_like = st.fixed_dictionaries({}, optional={"address": leaf, "channel": leaf})
recipient_like = valid_or(
    [
        {"address": "+14155550100", "channel": "PHONE"},
        {"address": "a@example.com", "channel": "email"},
        {"address": "whatsapp:+14155550100", "channel": "WHATSAPP", "variables": {"n": "x"}},
        {"addresses": [{"address": "+14155550101", "channel": "PHONE"}]},
    ],
    st.fixed_dictionaries(
        {},
        optional={
            "address": leaf,
            "channel": leaf,
            "addresses": st.lists(address_like, max_size=3) | leaf,
            "variables": st.dictionaries(st.text(max_size=5), leaf, max_size=3) | leaf,
            "contactId": leaf,
        },
    ),
)
content_like = valid_or(
    [
        {"text": "Hi"},
        {"text": "Hi {{ name | default: 'there' }}"},
        {"media": [{"url": "https://example.com/a.png"}]},
        {"modules": [{"sms": {"text": "Hi"}}, {"rcs": {"text": "Hi"}}]},
    ],
    st.fixed_dictionaries(
        {},
        optional={
            "text": leaf,
            "media": st.lists(st.fixed_dictionaries({"url": leaf}), max_size=2) | leaf,
            "modules": st.lists(
                st.dictionaries(st.sampled_from(["sms", "rcs", "email", "fax"]), leaf, max_size=2),
                max_size=3,
            )
            | leaf,
        },
    ),
)
near_valid = st.fixed_dictionaries(
    {
        "to": st.one_of(*[st.lists(recipient_like, min_size=1, max_size=4)] * 3, leaf),
        "content": content_like,
    },
    optional={
        "from": valid_or(
            [{"address": "+15005550006", "channel": "sms"}, None],
            st.fixed_dictionaries({}, optional={"address": leaf, "channel": leaf, "senderId": leaf})
            | leaf,
        ),
        "schedule": valid_or(
            [{"sendAt": ["2030-01-01T00:00:00Z"]}, None],
            st.fixed_dictionaries({"sendAt": st.lists(leaf, max_size=2) | leaf}),
        ),
        "tags": valid_or(
            [{"campaign": "spring"}, {"who": "{{ name }}"}],
            st.dictionaries(st.text(max_size=5), leaf, max_size=3) | leaf,
        ),
        "callbacks": valid_or([None], st.fixed_dictionaries({"url": leaf}) | leaf),
    },
)
request_bodies = st.one_of(
    json_values, st.dictionaries(st.sampled_from(FIELD_NAMES), json_values), near_valid, near_valid
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=request_bodies)
def test_no_json_body_is_a_server_error(api: httpx.Client, body: Any) -> None:
    response = api.post("/Messages", content=json.dumps(body), headers=_JSON)

    event(f"status {response.status_code}")
    assert response.status_code < 500, response.text
    if response.status_code != 202:
        assert_error(response, response.status_code)
        assert 400 <= response.status_code < 500


QUERY_NAMES = [
    "pageSize",
    "pageToken",
    "status",
    "channel",
    "operationId",
    "operation_id",
    "tags",
    "startDate",
    "endDate",
]
query_values = (
    st.text(max_size=30)
    | st.sampled_from(["0", "1", "1000", "1001", "SENT", "sms", "2024-01-01T00:00:00Z", "a:b;"])
    | st.integers().map(str)
    | st.binary(max_size=30).map(lambda raw: base64.urlsafe_b64encode(raw).decode())
)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(
    path=st.sampled_from(["/Messages", "/Messages/Operations"]),
    params=st.dictionaries(st.sampled_from(QUERY_NAMES) | st.text(max_size=8), query_values),
)
def test_no_list_query_is_a_server_error(
    api: httpx.Client, path: str, params: dict[str, str]
) -> None:
    response = api.get(path, params=params)

    event(f"status {response.status_code}")
    assert response.status_code in (200, 400), response.text
    if response.status_code == 400:
        unknown = {name or '""' for name in params if name not in QUERY_NAMES}
        assert assert_error(response, 400) <= {*QUERY_NAMES, "operationId", *unknown}
