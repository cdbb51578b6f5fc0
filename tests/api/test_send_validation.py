"""`POST /v1/Messages` validation: each bad field is named in one 400, and nothing is sent.

Every rejected request is followed by the check a client would make: the account still
has no operation and no message. Each test has a fresh account (the `api` fixture).
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from tests.api.test_errors import assert_error, assert_invalid, assert_nothing_accepted
from tests.support.polling import wait_completed

MISSING = object()
UNKNOWN_SENDER = "comms_sender_01h2xcejqtf2nbrexx3vqjhp41"
UNKNOWN_POOL = "comms_senderpool_01h2xcejqtf2nbrexx3vqjhp41"


def nested(depth: int) -> Any:
    value: Any = {}
    for _ in range(depth):
        value = [value]
    return value


def phone(number: str = "+14155550100") -> dict[str, Any]:
    return {"address": number, "channel": "PHONE"}


def request(**fields: Any) -> dict[str, Any]:
    """A valid body with `fields` replaced (or removed, when MISSING)."""
    body: dict[str, Any] = {"to": [phone()], "content": {"text": "Hi"}}
    body.update(fields)
    return {key: value for key, value in body.items() if value is not MISSING}


def recipient(**fields: Any) -> dict[str, Any]:
    return {key: value for key, value in {**phone(), **fields}.items() if value is not MISSING}


def reject(api: httpx.Client, body: Any, *fields: str) -> None:
    """The body is refused with a 400 naming exactly `fields`, and nothing is accepted."""
    response = api.post("/Messages", json=body)

    assert_invalid(response, *fields)
    assert_nothing_accepted(api)


def accept(api: httpx.Client, body: Any) -> str:
    response = api.post("/Messages", json=body)

    assert response.status_code == 202, response.text
    operation_id: str = response.json()["operationId"]
    return operation_id


def senders(api: httpx.Client) -> dict[str, dict[str, Any]]:
    """The account's senders, by channel."""
    response = api.get("/Senders")
    assert response.status_code == 200, response.text
    return {sender["channel"]: sender for sender in response.json()["senders"]}


# -- to -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "to",
    [MISSING, None, [], {}, "+14155550100", phone(), 3, True],
    ids=["missing", "null", "empty", "object", "string", "one-recipient-object", "int", "bool"],
)
def test_to_must_be_a_non_empty_array(api: httpx.Client, to: Any) -> None:
    reject(api, request(to=to), "to")


def test_more_than_10000_recipients_is_a_400_naming_to(api: httpx.Client) -> None:
    to = [phone(f"+1415{n:07d}") for n in range(10_001)]

    reject(api, request(to=to), "to")


def test_exactly_10000_recipients_are_accepted(api: httpx.Client) -> None:
    # sent from the email sender, no phone recipient is addressable: nothing is dispatched
    to = [phone(f"+1415{n:07d}") for n in range(10_000)]
    body = request(to=to, **{"from": {"address": "noreply@opencomms.test", "channel": "EMAIL"}})

    operation_id = accept(api, body)

    stats = wait_completed(api, operation_id)["stats"]
    assert stats["recipients"] == 10_000
    assert stats["unaddressable"] == 10_000


def test_every_bad_address_of_10000_is_listed_with_its_index(api: httpx.Client) -> None:
    to = [phone(f"+1415{n:07d}") for n in range(10_000)]
    for index in range(6, 10_000, 7):
        to[index]["address"] = "14155550100"
    to[9_999] = {"address": "someone@", "channel": "EMAIL"}
    to[5] = {"address": "+14155550100", "channel": "FAX"}

    response = api.post("/Messages", json=request(to=to))

    expected = {f"to[{index}].address" for index in range(6, 10_000, 7)}
    expected |= {"to[9999].address", "to[5].channel"}
    assert len(expected) == 1_430
    assert assert_error(response, 400) == expected
    errors = response.json()["errors"]
    assert len(errors) == len(expected)
    assert "14155550100" in next(e for e in errors if e["field"] == "to[6].address")["message"]
    assert_nothing_accepted(api)


@pytest.mark.parametrize(
    "address",
    [
        "14155550100",
        "+04155550100",
        "+0",
        "+1",
        "+",
        "",
        "+1415555010012345",
        "+1415555ABCD",
        "+1 415 555 0100",
        "+1-415-555-0100",
        "(415) 555-0100",
        "+14155550100\n",
        " +14155550100",
        "+14155550100\x00",
        "+١٤١٥٥٥٥٠١٠٠",
        "whatsapp:+14155550100",
        "tel:+14155550100",
    ],
)
def test_a_phone_number_not_in_e164_form_is_a_400(api: httpx.Client, address: str) -> None:
    reject(api, request(to=[phone(), recipient(address=address)]), "to[1].address")


@pytest.mark.parametrize(
    "address",
    [
        "not-an-email",
        "someone@",
        "@example.com",
        "a@b",
        "a b@example.com",
        "a@@example.com",
        "a@example.com\n",
        "a@example.com\x00",
        "x" * 65 + "@example.com",
        "a@" + "x" * 250 + ".com",
        "+14155550100",
    ],
)
def test_a_bad_email_address_is_a_400(api: httpx.Client, address: str) -> None:
    reject(api, request(to=[{"address": address, "channel": "EMAIL"}]), "to[0].address")


@pytest.mark.parametrize("address", [None, 14155550100, ["+14155550100"], {"e164": "x"}])
def test_an_address_that_is_not_a_string_is_a_400(api: httpx.Client, address: Any) -> None:
    reject(api, request(to=[recipient(address=address)]), "to[0].address")


def test_a_recipient_without_an_address_is_a_400_naming_the_address(api: httpx.Client) -> None:
    reject(api, request(to=[{"channel": "PHONE"}]), "to[0].address")


@pytest.mark.parametrize("channel", ["SMS", "RCS", "FAX", "", "PH0NE", None, 1, MISSING])
def test_an_unknown_recipient_channel_is_a_400(api: httpx.Client, channel: Any) -> None:
    reject(api, request(to=[recipient(channel=channel)]), "to[0].channel")


@pytest.mark.parametrize("item", ["+14155550100", 1, None, [], {}])
def test_a_recipient_that_is_not_an_address_object_is_a_400(api: httpx.Client, item: Any) -> None:
    reject(api, request(to=[phone(), item]), "to[1]")


@pytest.mark.parametrize(
    "to",
    [
        [{"address": "+14155550100", "channel": "phone"}],
        [{"address": "+14155550100", "channel": "Phone"}],
        [{"address": "+14155550100", "channel": "whatsapp"}],
        [{"address": "whatsapp:+14155550100", "channel": "WHATSAPP"}],
        [{"address": "Someone@Example.com", "channel": "email"}],
        [{"address": "+14155550100", "channel": "PHONE", "variables": {"n": 1, "f": 1.5}}],
        [{"address": "+14155550100", "channel": "PHONE", "variables": None}],
        [{"addresses": [phone(), {"address": "a@example.com", "channel": "EMAIL"}]}],
        [{"addresses": [phone(f"+1415555{n:04d}") for n in range(10)]}],
        [phone(), phone()],
    ],
    ids=[
        "lowercase",
        "mixed-case",
        "lowercase-whatsapp",
        "whatsapp-prefix",
        "email-any-case",
        "number-variables",
        "null-variables",
        "addresses",
        "ten-addresses",
        "duplicates",
    ],
)
def test_valid_recipients_are_accepted(api: httpx.Client, to: list[Any]) -> None:
    accept(api, request(to=to))


@pytest.mark.parametrize(
    "addresses",
    [[], [phone(f"+1415555{n:04d}") for n in range(11)], None, phone(), "+14155550100"],
    ids=["none", "eleven", "null", "object", "string"],
)
def test_the_addresses_form_needs_1_to_10_addresses(api: httpx.Client, addresses: Any) -> None:
    reject(api, request(to=[{"addresses": addresses}]), "to[0].addresses")


def test_each_bad_entry_of_addresses_is_named(api: httpx.Client) -> None:
    addresses = [
        phone(),
        "+14155550101",
        phone("14155550102"),
        {"address": "a@example.com", "channel": "SMS"},
        {**phone(), "variables": {}},
    ]

    reject(
        api,
        request(to=[{"addresses": addresses}]),
        "to[0].addresses[1]",
        "to[0].addresses[2].address",
        "to[0].addresses[3].channel",
        "to[0].addresses[4].variables",
    )


@pytest.mark.parametrize(
    "item",
    [{"contactId": "contact_1"}, {"contactId": "contact_1", "variables": {"a": "b"}}],
)
def test_contact_ids_are_not_supported(api: httpx.Client, item: dict[str, Any]) -> None:
    reject(api, request(to=[item]), "to[0].contactId")


@pytest.mark.parametrize(
    ("item", "field"),
    [
        (recipient(name="Fred"), "to[0].name"),
        (recipient(Address="+14155550100"), "to[0].Address"),
        (recipient(addresses=[phone()]), "to[0].addresses"),
        (recipient(contactId="c"), "to[0].contactId"),
        ({"addresses": [phone()], "channel": "PHONE"}, "to[0].channel"),
    ],
)
def test_unknown_fields_in_a_recipient_are_a_400(
    api: httpx.Client, item: dict[str, Any], field: str
) -> None:
    reject(api, request(to=[item]), field)


@pytest.mark.parametrize(
    ("variables", "field"),
    [
        ("name=Fred", "to[0].variables"),
        (["Fred"], "to[0].variables"),
        ({"name": None}, "to[0].variables.name"),
        ({"name": ["Fred"]}, "to[0].variables.name"),
        ({"name": {"first": "Fred"}}, "to[0].variables.name"),
        ({"name": True}, "to[0].variables.name"),
        ({f"v{n}": "x" for n in range(101)}, "to[0].variables"),
    ],
)
def test_variables_must_be_a_map_of_strings(api: httpx.Client, variables: Any, field: str) -> None:
    reject(api, request(to=[recipient(variables=variables)]), field)


# -- top level ------------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["foo", "To", "statusCallback", "contentId", ""])
def test_unknown_top_level_fields_are_a_400(api: httpx.Client, name: str) -> None:
    reject(api, {**request(), name: "x"}, name or '""')


def test_explicit_nulls_for_optional_fields_are_accepted(api: httpx.Client) -> None:
    accept(api, request(**{"from": None, "schedule": None, "tags": None, "callbacks": None}))


# -- content --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "content",
    [
        MISSING,
        None,
        {},
        "Hi",
        ["Hi"],
        {"text": ""},
        {"text": None},
        {"media": []},
        {"modules": None},
    ],
    ids=[
        "missing",
        "null",
        "empty",
        "string",
        "array",
        "empty-text",
        "null-text",
        "no-media",
        "null-modules",
    ],
)
def test_content_needs_text_media_or_modules(api: httpx.Client, content: Any) -> None:
    reject(api, request(content=content), "content")


@pytest.mark.parametrize("text", [5, 1.5, True, ["Hi"], {"body": "Hi"}, "x" * 10_001])
def test_text_must_be_a_string_of_at_most_10000_characters(api: httpx.Client, text: Any) -> None:
    reject(api, request(content={"text": text}), "content.text")


def test_text_of_10000_characters_is_accepted(api: httpx.Client) -> None:
    accept(api, request(content={"text": "x" * 10_000}))


@pytest.mark.parametrize(
    "text",
    [
        "{% if %}",
        "Hello {{ name ",
        "{% if vip %}Hi",
        "{% endif %}",
        "{% for x in %}{% endfor %}",
        "{% unless %}{% endunless %}",
        "{% raw %}",
        "{% cycle %}",
        "Hi {{ name | upcsae }}",  # a misspelt filter would fail for every recipient
        "{% include 'footer' %}",  # there are no partial templates
    ],
)
def test_liquid_that_does_not_parse_is_a_400_naming_the_text(api: httpx.Client, text: str) -> None:
    response = api.post("/Messages", json=request(content={"text": text}))

    assert_invalid(response, "content.text")
    assert "Liquid" in response.json()["errors"][0]["message"]
    assert_nothing_accepted(api)


@pytest.mark.parametrize(
    "text",
    [
        "Hello {{name | default: 'there'}}!",
        "{% if vip %}Dear{% else %}Hi{% endif %} {{ name }}",
        "{% unless optout %}Offer{% endunless %}",
        "Plain text with { and } and %",
    ],
)
def test_liquid_that_parses_is_accepted(api: httpx.Client, text: str) -> None:
    accept(api, request(content={"text": text}))


@pytest.mark.parametrize(
    ("media", "field"),
    [
        ("https://example.com/a.png", "content.media"),
        ({"url": "https://example.com/a.png"}, "content.media"),
        ([{"url": "https://example.com/a.png"}] * 11, "content.media"),
        (["https://example.com/a.png"], "content.media[0].url"),
        ([{"url": "not a url"}], "content.media[0].url"),
        ([{"url": "ftp://example.com/a.png"}], "content.media[0].url"),
        ([{"url": "https://"}], "content.media[0].url"),
        ([{"url": "https://example.com/a.png\n"}], "content.media[0].url"),
        ([{"url": "javascript:alert(1)"}], "content.media[0].url"),
        ([{"url": 5}], "content.media[0].url"),
        ([{}], "content.media[0].url"),
        ([{"url": "https://example.com/a.png", "type": "image/png"}], "content.media[0].type"),
    ],
)
def test_media_must_be_url_objects(api: httpx.Client, media: Any, field: str) -> None:
    reject(api, request(content={"text": "Hi", "media": media}), field)


def test_media_without_text_is_accepted(api: httpx.Client) -> None:
    accept(api, request(content={"media": [{"url": "https://example.com/a.png"}]}))


@pytest.mark.parametrize(
    ("modules", "field"),
    [
        ([], "content.modules"),
        ({"sms": {"text": "Hi"}}, "content.modules"),
        ([{"sms": {"text": "Hi"}}] * 5, "content.modules"),
        ([{"fax": {"text": "Hi"}}], "content.modules[0]"),
        ([{"PHONE": {"text": "Hi"}}], "content.modules[0]"),
        ([{"sms": {"text": "Hi"}}, {"sms": {"text": "Again"}}], "content.modules[1]"),
        ([{"sms": {"text": "Hi"}}, {"SMS": {"text": "Again"}}], "content.modules[1]"),
        ([{"sms": {"text": "Hi"}, "rcs": {"text": "Hi"}}], "content.modules[0]"),
        ([{}], "content.modules[0]"),
        (["sms"], "content.modules[0]"),
        ([{"sms": "Hi"}], "content.modules[0].sms"),
        ([{"sms": {"text": 5}}], "content.modules[0].sms.text"),
        ([{"sms": {"text": "x" * 10_001}}], "content.modules[0].sms.text"),
        ([{"sms": {"text": "{% if %}"}}], "content.modules[0].sms.text"),
        ([{"rcs": {"card": nested(40)}}], "content.modules[0].rcs"),
        (
            [{"rcs": {"text": "ok"}}, {"email": {"subject": "{{ x"}}],
            "content.modules[1].email.subject",
        ),
    ],
)
def test_modules_must_be_one_per_known_channel(api: httpx.Client, modules: Any, field: str) -> None:
    reject(api, request(content={"modules": modules}), field)


def test_modules_are_accepted(api: httpx.Client) -> None:
    rich_card = {"richCard": {"standaloneCard": {"cardContent": {"title": "Hi {{name}}"}}}}
    modules = [
        {"rcs": rich_card | {"deep": nested(20)}},
        {"sms": {"text": "Hi {{name}}"}},
        {"WhatsApp": {"text": "Hi"}},
    ]

    accept(api, request(content={"modules": modules}))


def test_unknown_content_fields_are_a_400(api: httpx.Client) -> None:
    reject(api, request(content={"text": "Hi", "templateId": "HX123"}), "content.templateId")


# -- from -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("sender", "field"),
    [
        ({"senderId": UNKNOWN_SENDER}, "from.senderId"),
        ({"senderId": "comms_sender_x"}, "from.senderId"),
        ({"senderId": "\x00"}, "from.senderId"),
        ({"senderId": UNKNOWN_POOL}, "from.senderId"),
        ({"senderId": 5}, "from.senderId"),
        ({"senderPoolId": UNKNOWN_POOL}, "from.senderPoolId"),
        ({"senderPoolId": "comms_senderpool_\x00"}, "from.senderPoolId"),
        ({"senderPoolId": None}, "from.senderPoolId"),
        ({"address": "+19995550100", "channel": "SMS"}, "from.address"),
        ({"address": "+15005550006\x00", "channel": "SMS"}, "from.address"),
        ({"address": "", "channel": "SMS"}, "from.address"),
        ({"address": 15005550006, "channel": "SMS"}, "from.address"),
        ({"address": "+15005550006", "channel": "PHONE"}, "from.channel"),
        ({"address": "+15005550006", "channel": "FAX"}, "from.channel"),
        ({"address": "+15005550006"}, "from.channel"),
        ({"channel": "SMS"}, "from"),
        ({}, "from"),
        ("+15005550006", "from"),
        ({"senderId": UNKNOWN_SENDER, "senderPoolId": UNKNOWN_POOL}, "from"),
        ({"address": "+15005550006", "channel": "SMS", "senderId": UNKNOWN_SENDER}, "from"),
        ({"senderId": UNKNOWN_SENDER, "channel": "SMS"}, "from.channel"),
    ],
)
def test_a_bad_or_unknown_sender_is_a_400_naming_the_field(
    api: httpx.Client, sender: Any, field: str
) -> None:
    reject(api, request(**{"from": sender}), field)


def test_the_sender_of_another_account_is_unknown(api: httpx.Client, server: Any) -> None:
    with httpx.Client(base_url=server.url + "/v1", auth=server.new_account()) as other:
        theirs = senders(other)["SMS"]["id"]

    reject(api, request(**{"from": {"senderId": theirs}}), "from.senderId")


def test_known_senders_are_accepted_in_each_form(api: httpx.Client) -> None:
    sms = senders(api)["SMS"]
    pools = api.get("/SenderPools").json()["senderPools"]

    accept(api, request(**{"from": {"senderId": sms["id"]}}))
    accept(api, request(**{"from": {"senderPoolId": pools[0]["id"]}}))
    accept(api, request(**{"from": {"address": sms["address"], "channel": "sms"}}))


# -- schedule -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("schedule", "field"),
    [
        ({"sendAt": ["tomorrow"]}, "schedule.sendAt[0]"),
        ({"sendAt": ["2030-01-01"]}, "schedule.sendAt[0]"),
        ({"sendAt": ["9999-12-31T23:00:00"]}, "schedule.sendAt[0]"),
        ({"sendAt": ["2030-01-01T09:00:00Z", "2030-01-01T09:00:00"]}, "schedule.sendAt"),
        ({"sendAt": ["2030-13-01T09:00:00Z"]}, "schedule.sendAt[0]"),
        ({"sendAt": ["10000-01-01T00:00:00Z"]}, "schedule.sendAt[0]"),
        ({"sendAt": [1893456000]}, "schedule.sendAt[0]"),
        ({"sendAt": ["2030-01-01T09:00:00Z", "soon"]}, "schedule.sendAt[1]"),
        ({"sendAt": []}, "schedule.sendAt"),
        ({"sendAt": None}, "schedule.sendAt"),
        ({"sendAt": 1893456000}, "schedule.sendAt"),
        ({}, "schedule.sendAt"),
        ("2030-01-01T09:00:00Z", "schedule"),
    ],
)
def test_send_at_must_be_date_times(api: httpx.Client, schedule: Any, field: str) -> None:
    reject(api, request(schedule=schedule), field)


def test_unknown_schedule_fields_are_a_400(api: httpx.Client) -> None:
    schedule = {"sendAt": ["2030-01-01T09:00:00Z"], "timezone": "UTC"}

    reject(api, request(schedule=schedule), "schedule.timezone")


@pytest.mark.parametrize(
    "send_at",
    [["2030-01-01T09:00:00Z"], ["2030-01-01T09:00:00+02:00"], "2030-01-01T09:00:00.123-07:00"],
)
def test_send_at_with_a_zone_is_accepted(api: httpx.Client, send_at: Any) -> None:
    operation_id = accept(api, request(schedule={"sendAt": send_at}))

    assert api.get(f"/Messages/Operations/{operation_id}").json()["status"] == "SCHEDULED"


# -- tags -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("tags", "field"),
    [
        ({f"k{n}": "v" for n in range(11)}, "tags"),
        ("campaign:spring", "tags"),
        (["campaign"], "tags"),
        ({"bad key": "v"}, "tags.bad key"),
        ({"bad/key": "v"}, "tags.bad/key"),
        ({"": "v"}, 'tags.""'),
        ({"k" * 129: "v"}, "tags." + "k" * 129),
        ({"key\n": "v"}, "tags.key\n"),
        ({"campaign": "has space"}, "tags.campaign"),
        ({"campaign": ""}, "tags.campaign"),
        ({"campaign": "v" * 257}, "tags.campaign"),
        ({"campaign": "spring\n"}, "tags.campaign"),
        ({"campaign": 5}, "tags.campaign"),
        ({"campaign": None}, "tags.campaign"),
        ({"campaign": "{% if %}"}, "tags.campaign"),
    ],
)
def test_tags_are_at_most_10_safe_pairs(api: httpx.Client, tags: Any, field: str) -> None:
    reject(api, request(tags=tags), field)


def test_ten_tags_with_templated_values_are_accepted(api: httpx.Client) -> None:
    tags = {f"k.{n}_~-": "v" * 256 for n in range(9)} | {"who": "{{ name }}"}

    accept(api, request(tags=tags))


# -- callbacks ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("callbacks", "field"),
    [
        ({"url": "not a url"}, "callbacks.url"),
        ({"url": "ftp://example.com/events"}, "callbacks.url"),
        ({}, "callbacks.url"),
        ({"url": "https://example.com/events", "method": "GET"}, "callbacks.method"),
        ("https://example.com/events", "callbacks"),
    ],
)
def test_callbacks_need_an_http_url(api: httpx.Client, callbacks: Any, field: str) -> None:
    reject(api, request(callbacks=callbacks), field)


# -- many problems at once ------------------------------------------------------------------


def test_every_problem_of_a_request_is_listed_in_one_400(api: httpx.Client) -> None:
    body = {
        "to": [
            phone("14155550100"),
            {"address": "+14155550101", "channel": "FAX"},
            phone(),
            {"contactId": "c1"},
            {"address": "a@example.com", "channel": "EMAIL", "nickname": "A"},
        ],
        "content": {"text": 5, "media": [{"url": "nope"}]},
        "from": {"senderId": "x", "senderPoolId": "y"},
        "schedule": {"sendAt": ["2030-01-01"]},
        "tags": {"bad key": "v", "ok": "bad value"},
        "callbacks": {"url": "nope"},
        "priority": "high",
    }

    response = api.post("/Messages", json=body)

    assert assert_error(response, 400) == {
        "to[0].address",
        "to[1].channel",
        "to[3].contactId",
        "to[4].nickname",
        "content.text",
        "content.media[0].url",
        "from",
        "schedule.sendAt[0]",
        "tags.bad key",
        "tags.ok",
        "callbacks.url",
        "priority",
    }
    assert response.json()["code"] == 20001
    assert "12" in response.json()["message"]
    assert_nothing_accepted(api)


def test_an_unknown_sender_is_listed_with_the_other_problems(api: httpx.Client) -> None:
    body = request(to=[phone("14155550100")], **{"from": {"senderId": UNKNOWN_SENDER}})

    reject(api, body, "to[0].address", "from.senderId")


def test_a_single_problem_is_summarised_in_the_message(api: httpx.Client) -> None:
    response = api.post("/Messages", json=request(to=[phone("14155550100")]))

    assert_invalid(response, "to[0].address")
    assert "to[0].address" in response.json()["message"]


# -- sizes ([input]) ------------------------------------------------------------------------

LONG_URL = "https://example.com/" + "a" * 2_029  # 2,049 characters


def suggestions(count: int) -> dict[str, Any]:
    return {
        "rcs": {"text": "Pick", "suggestions": [{"reply": {"text": f"{n}"}} for n in range(count)]}
    }


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (request(to=[recipient(variables={"v": "x" * 1_001})]), "to[0].variables.v"),
        (request(to=[recipient(variables={"v": "x" * 1_000_000})]), "to[0].variables.v"),
        (request(to=[recipient(variables={"v": 10**1_001})]), "to[0].variables.v"),
        (request(to=[recipient(variables={"v" * 129: "x"})]), "to[0].variables"),
        (request(to=[recipient(address="+1" + "4" * 400)]), "to[0].address"),
        (
            request(to=[recipient(address="a" * 300 + "@example.com", channel="EMAIL")]),
            "to[0].address",
        ),
        (request(**{"from": {"address": "a" * 321, "channel": "SMS"}}), "from.address"),
        (request(content={"media": [{"url": LONG_URL}]}), "content.media[0].url"),
        (request(callbacks={"url": LONG_URL}), "callbacks.url"),
        (request(content={"modules": [suggestions(21)]}), "content.modules[0].rcs.suggestions"),
        (
            request(content={"modules": [{"whatsapp": {f"f{n}": "x" for n in range(51)}}]}),
            "content.modules[0].whatsapp",
        ),
        (
            request(content={"modules": [{"rcs": {"cards": [{"d": "x" * 9_000}] * 12}}]}),
            "content.modules[0].rcs",
        ),
        (request(tags={"k" * 129: "v"}), "tags." + "k" * 129),
    ],
    ids=[
        "variable-1001", "variable-1M", "variable-1001-digits", "variable-name-129",
        "phone-402", "email-312", "from-321", "media-url-2049", "callback-url-2049",
        "module-array-21", "module-object-51", "module-108k-chars", "tag-key-129",
    ],
)  # fmt: skip
def test_sizes_over_the_input_limits_are_a_400_naming_the_field(
    api: httpx.Client, body: dict[str, Any], field: str
) -> None:
    reject(api, body, field)


def test_sizes_at_the_input_limits_are_accepted(api: httpx.Client) -> None:
    body = request(
        to=[recipient(variables={"v" * 128: "x" * 1_000})],
        content={
            "text": "Hi",
            "media": [{"url": "https://example.com/" + "a" * 2_028}],
            "modules": [suggestions(20), {"whatsapp": {f"f{n}": "x" for n in range(50)}}],
        },
        callbacks={"url": "http://127.0.0.1:9/" + "a" * 2_029},
    )

    accept(api, body)


@pytest.mark.parametrize("years", [11, 100, 7_000])
@pytest.mark.parametrize("zone", ["Z", ""], ids=["utc", "local"])
def test_a_send_at_more_than_ten_years_ahead_is_refused(
    api: httpx.Client, years: int, zone: str
) -> None:
    year = datetime.now(UTC).year + years
    send_at = f"{min(year, 9998)}-01-01T09:00:00{zone}"

    reject(api, request(schedule={"sendAt": [send_at]}), "schedule.sendAt[0]")


def test_a_send_at_nine_years_ahead_is_accepted(api: httpx.Client) -> None:
    send_at = f"{datetime.now(UTC).year + 9}-06-01T09:00:00Z"

    accept(api, request(schedule={"sendAt": [send_at]}))
