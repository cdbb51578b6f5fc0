"""`/v1/Content`: content templates as Twilio's Content API serves them, through real HTTP
on both engines, and through twilio-python's own client pointed at the server."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from twilio.base.exceptions import TwilioRestException
from twilio.rest import Client
from twilio.rest.content.v1.content import ContentList

from tests.support.server import ThreadServer, account_client

SID = re.compile(r"HX[0-9a-f]{32}\Z")
CARD = {
    "title": "Hello {{1}}",
    "body": "Your order {{2}} ships today.",
    "media": ["https://cdn.example.com/{{2}}.png"],
    "actions": [
        {"type": "URL", "title": "Track", "url": "https://example.com/t/{{2}}"},
        {"type": "QUICK_REPLY", "title": "Thanks", "id": "thanks"},
        {"type": "PHONE_NUMBER", "title": "Call us", "phone": "+14155550100"},
    ],
}
TEMPLATE: dict[str, Any] = {
    "friendly_name": "order shipped",
    "language": "en",
    "variables": {"1": "there", "2": "0000"},
    "types": {
        "twilio/text": {"body": "Hi {{1}}, order {{2}} ships today."},
        "twilio/card": CARD,
        "whatsapp/template": {"name": "order_shipped", "language": "en_US"},
    },
}


@pytest.fixture
def other_api(server: ThreadServer) -> Iterator[httpx.Client]:
    with account_client(server) as client:
        yield client


def create(api: httpx.Client, body: dict[str, Any] = TEMPLATE) -> dict[str, Any]:
    response = api.post("/Content", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def problems(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 400, response.text
    return {error["field"]: error["message"] for error in response.json()["errors"]}


def test_a_template_is_created_fetched_listed_and_deleted(
    server: ThreadServer, api: httpx.Client, account: tuple[str, str]
) -> None:
    created = create(api)

    assert SID.match(created["sid"])
    assert created["account_sid"] == account[0]
    assert (created["friendly_name"], created["language"]) == ("order shipped", "en")
    assert created["variables"] == TEMPLATE["variables"]
    assert created["types"]["twilio/card"]["actions"][0] == CARD["actions"][0]
    assert created["types"]["whatsapp/template"] == {"name": "order_shipped", "language": "en_US"}
    assert created["url"] == f"{server.url}/v1/Content/{created['sid']}"
    made = datetime.strptime(created["date_created"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    assert abs((datetime.now(UTC) - made).total_seconds()) < 60
    assert created["date_updated"] == created["date_created"]

    assert api.get(f"/Content/{created['sid']}").json() == created
    assert api.get("/Content").json()["contents"] == [created]
    assert api.delete(f"/Content/{created['sid']}").status_code == 204
    assert api.get(f"/Content/{created['sid']}").status_code == 404
    assert api.delete(f"/Content/{created['sid']}").status_code == 404
    assert api.get("/Content").json()["contents"] == []


def test_the_list_pages_newest_first_in_twilios_shape(
    server: ThreadServer, api: httpx.Client
) -> None:
    sids = [create(api, {**TEMPLATE, "friendly_name": f"t{i}"})["sid"] for i in range(3)]

    first = api.get("/Content", params={"PageSize": 2}).json()
    meta = first["meta"]
    assert [c["sid"] for c in first["contents"]] == sids[:0:-1]
    assert (meta["key"], meta["page"], meta["page_size"]) == ("contents", 0, 2)
    assert meta["first_page_url"] == f"{server.url}/v1/Content?PageSize=2&Page=0"
    assert meta["url"] == meta["first_page_url"]
    assert meta["previous_page_url"] is None
    assert meta["next_page_url"].startswith(f"{server.url}/v1/Content?PageSize=2&Page=1&PageToken=")

    second = api.get(meta["next_page_url"]).json()  # absolute, as twilio-python follows it
    assert [c["sid"] for c in second["contents"]] == sids[:1]
    assert (second["meta"]["page"], second["meta"]["next_page_url"]) == (1, None)
    assert second["meta"]["url"] == meta["next_page_url"]


def test_bad_paging_is_a_400(api: httpx.Client) -> None:
    assert set(problems(api.get("/Content", params={"PageSize": 0}))) == {"pageSize"}
    assert set(problems(api.get("/Content", params={"Page": "-1"}))) == {"Page"}
    assert set(problems(api.get("/Content", params={"PageToken": "forged"}))) == {"pageToken"}


def test_a_bad_template_lists_every_problem_and_creates_nothing(api: httpx.Client) -> None:
    body = {
        "friendly_name": "x" * 257,
        "variables": {"first name": "Ada", "2": 7},
        "colour": "blue",
        "types": {
            "twilio/text": {"body": ""},
            "twilio/media": {"media": ["ftp://example.com/a.png"]},
            "twilio/card": {"subtitle": "no title", "actions": [{"type": "FAX", "title": "x"}]},
            "whatsapp/template": {"name": "Has Spaces"},
            "twilio/location": {"latitude": 1, "longitude": 2},
            "acme/hologram": {"body": "x"},
        },
    }

    found = problems(api.post("/Content", json=body))

    assert set(found) == {
        "friendly_name",
        "language",
        "variables.first name",
        "variables.2",
        "colour",
        "types.twilio/text.body",
        "types.twilio/media.media[0]",
        "types.twilio/card",
        "types.twilio/card.actions[0].type",
        "types.whatsapp/template.name",
        "types.twilio/location",
        "types.acme/hologram",
    }
    assert "not supported" in found["types.twilio/location"]
    assert "not a content type" in found["types.acme/hologram"]
    assert api.get("/Content").json()["contents"] == []


def card(**fields: Any) -> dict[str, Any]:
    return {"twilio/card": {"title": "t", **fields}}


def action(**fields: Any) -> dict[str, Any]:
    return card(actions=[{"title": "x", **fields}])


PNG = "https://e.com/a.png"
WHATSAPP = "whatsapp/template"


@pytest.mark.parametrize(
    ("types", "field"),
    [
        ({}, "types"),
        ({"twilio/text": None}, "types"),
        ({"twilio/text": {"body": "x" * 1601}}, "types.twilio/text.body"),
        ({"twilio/media": {"media": [PNG] * 11}}, "types.twilio/media.media"),
        (card(media=[PNG] * 2), "types.twilio/card.media"),
        (action(type="URL"), "types.twilio/card.actions[0].url"),
        (action(type="PHONE_NUMBER", phone="call me"), "types.twilio/card.actions[0].phone"),
        (action(type="QUICK_REPLY", title="x" * 26), "types.twilio/card.actions[0].title"),
        (action(type="QUICK_REPLY", code="x"), "types.twilio/card.actions[0].code"),
        (card(actions=[{"type": "QUICK_REPLY", "title": "x"}] * 11), "types.twilio/card.actions"),
        ({WHATSAPP: {"name": "ok", "language": "english please"}}, f"types.{WHATSAPP}.language"),
        ({WHATSAPP: {"name": "ok", "components": []}}, f"types.{WHATSAPP}.components"),
        ("twilio/text", "types"),
    ],
)
def test_each_bound_on_a_type_is_a_400_naming_its_field(
    api: httpx.Client, types: Any, field: str
) -> None:
    found = problems(api.post("/Content", json={"language": "en", "types": types}))

    assert set(found) == {field}


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ({str(i): "x" for i in range(101)}, "variables"),
        ({"1": "x" * 1001}, "variables.1"),
        ({"a" * 17: "x"}, f"variables.{'a' * 17}"),
        ({"1": None}, "variables.1"),
        (["1"], "variables"),
    ],
)
def test_variables_are_bounded(api: httpx.Client, variables: Any, field: str) -> None:
    body = {"language": "en", "variables": variables, "types": {"twilio/text": {"body": "hi"}}}

    assert set(problems(api.post("/Content", json=body))) == {field}
    assert api.get("/Content").json()["contents"] == []


def test_nulls_are_absent_fields_as_twilio_python_sends_them(api: httpx.Client) -> None:
    body = {
        "friendly_name": None,
        "language": "pt_BR",
        "variables": None,
        "types": {
            "twilio/text": {"body": "Olá"},
            "twilio/media": None,
            "twilio/location": None,
            "twilio/card": {"title": "T", "subtitle": None, "media": None, "actions": [
                {"type": "QUICK_REPLY", "title": "Sim", "url": None, "phone": None, "id": None,
                 "code": None, "webview_size": None, "digitable_line": None},
            ]},
        },
    }  # fmt: skip

    created = create(api, body)

    assert created["friendly_name"] is None
    assert created["variables"] == {}
    assert created["types"] == {
        "twilio/text": {"body": "Olá"},
        "twilio/card": {"title": "T", "actions": [{"type": "QUICK_REPLY", "title": "Sim"}]},
    }


def test_another_accounts_template_is_not_found(api: httpx.Client, other_api: httpx.Client) -> None:
    sid = create(api)["sid"]

    assert other_api.get(f"/Content/{sid}").status_code == 404
    assert other_api.delete(f"/Content/{sid}").status_code == 404
    assert other_api.get("/Content").json()["contents"] == []
    assert api.get(f"/Content/{sid}").status_code == 200


@pytest.mark.parametrize("sid", ["HX123", "MM" + "0" * 32, "HX" + "g" * 32, "nope"])
def test_a_sid_of_another_form_is_a_404(api: httpx.Client, sid: str) -> None:
    assert api.get(f"/Content/{sid}").status_code == 404
    assert api.delete(f"/Content/{sid}").status_code == 404


def test_the_preview_prefix_serves_the_same_templates(
    server: ThreadServer, api: httpx.Client
) -> None:
    sid = create(api)["sid"]
    with httpx.Client(base_url=server.url, auth=api.auth) as client:
        fetched = client.get(f"/preview/Content/{sid}").json()

    assert fetched["url"] == f"{server.url}/preview/Content/{sid}"


def twilio_client(server: ThreadServer, account: tuple[str, str]) -> Client:
    """twilio-python, unchanged, with its content domain's base URL pointed here."""
    client = Client(*account)
    client.content.base_url = server.url
    return client


def test_twilio_python_creates_lists_fetches_and_deletes_templates(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    contents = twilio_client(server, account).content.v1.contents
    request = ContentList.ContentCreateRequest({
        "friendly_name": "twilio-python",
        "language": "en",
        "variables": {"1": "there"},
        "types": {
            "twilio/text": {"body": "Hi {{1}}"},
            "twilio/card": {"title": "Hi {{1}}", "actions": [
                {"type": "URL", "title": "Open", "url": "https://example.com/{{1}}"},
            ]},
        },
    })  # fmt: skip

    made = [contents.create(request) for _ in range(3)]
    listed = contents.list(page_size=2)  # follows next_page_url
    fetched = contents(made[0].sid).fetch()

    assert all(SID.match(content.sid) for content in made)
    assert [content.sid for content in listed] == [content.sid for content in made[::-1]]
    assert fetched.friendly_name == "twilio-python"
    assert fetched.account_sid == account[0]
    assert fetched.variables == {"1": "there"}
    assert fetched.types["twilio/card"]["actions"][0]["url"] == "https://example.com/{{1}}"
    assert isinstance(fetched.date_created, datetime)
    assert contents(made[0].sid).delete() is True
    with pytest.raises(TwilioRestException) as refused:
        contents(made[0].sid).fetch()
    assert refused.value.status == 404
    assert len(contents.list()) == 2


def test_twilio_python_sees_the_problems_of_a_bad_template(
    server: ThreadServer, account: tuple[str, str]
) -> None:
    contents = twilio_client(server, account).content.v1.contents
    request = ContentList.ContentCreateRequest({"types": {"twilio/text": {"body": "Hi"}}})

    with pytest.raises(TwilioRestException) as refused:
        contents.create(request)

    assert refused.value.status == 400
    assert "language" in refused.value.msg
