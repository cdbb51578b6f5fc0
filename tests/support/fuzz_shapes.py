"""The shapes the contract (/work/shared/spec/API.md) gives each route's body and query
string, as strategies: valid-looking values, at the edges of what is allowed, which the
fuzz run then damages (fuzz_values.mutated). Ids and callback URLs come from `Targets`.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from opencomms.domain.event_types import EVENT_TYPES
from tests.support.fuzz_values import FAR_DATES, URL_TEXT, hostile_text, pick

__all__ = [
    "REFUSED_URLS",
    "Ids",
    "Targets",
    "contents_query",
    "messages_query",
    "no_body",
    "operations_query",
    "paging_query",
    "senders_query",
    "valid_api_key",
    "valid_content",
    "valid_message_search",
    "valid_opt_out",
    "valid_pool",
    "valid_pool_members",
    "valid_replay",
    "valid_resolve",
    "valid_send",
    "valid_sender",
    "valid_sender_search",
    "valid_sender_update",
    "valid_sink",
    "valid_subscription",
]

PHONES = ["+14155550100", "+14155550101", "+447700900123", "+61491570156", "+8613800138000"]
EMAILS = ["a@example.com", "B@Example.COM", "x+y@sub.example.org"]
WHATSAPP = ["whatsapp:+14155550102", "+14155550103"]
# addresses no other test registers: an address belongs to the account that registered
# it, and the fuzz's accounts keep theirs on the session's shared server
SENDER_ADDRESSES = {
    "SMS": ["+12065559100", "54321", "FuzzBrand"],
    "RCS": ["fuzz_agent"],
    "WHATSAPP": ["+12065559101"],
    "EMAIL": ["fuzz@example.com"],
}
# callback URLs the server refuses (networks, schemes, a name that does not resolve); the
# run adds its receiver's, on loopback (which the tests' server allows)
REFUSED_URLS = [
    "http://10.0.0.1/",
    "http://169.254.169.254/latest/meta-data",
    "http://0.0.0.0/",
    "http://[::ffff:10.0.0.1]/",
    "ftp://127.0.0.1/",
    "http://a.invalid/",
]
MEDIA_URLS = ["https://example.com/a.png", "http://127.0.0.1:9/b.jpg"]
MODULES = [
    {"sms": {"text": "Hi"}},
    {"rcs": {"text": "Hi {{ name }}", "richCard": {"title": "T", "media": {}}}},
    {"whatsapp": {"text": "Hi"}},
    {"email": {"subject": "S", "text": "Hi", "html": "<b>Hi</b>"}},
]
TEXTS = ["Hi", "Hello {{name | default: 'there'}}!", "{% if vip %}VIP {% endif %}offer", "Ünï ✓ 👍"]
TYPE_PATTERNS = [*EVENT_TYPES, "com.twilio.comms-api.message.*", "com.twilio.*", "*"]
DURATIONS = ["500ms", "60s", "1m", "2h", "30d", "31d", "0ms", "9" * 30 + "d", "1.5s", "-1s"]
# scheduled sends: soon, in local time, past, and at the edges of every range
SEND_DATES = [
    "2030-01-01T00:00:00Z",
    "2030-01-01T09:00:00",
    "2024-01-01T00:00:00+02:00",
    *FAR_DATES,
]


Ids = Callable[[str], st.SearchStrategy[str]]


@dataclass(frozen=True)
class Targets:
    """What one route's requests point at: ids by kind, and callback URLs."""

    ids: Ids
    callback_urls: Sequence[str]


# -- bodies of the contract's shape ---------------------------------------------------------


def _maybe(strategy: st.SearchStrategy[Any]) -> st.SearchStrategy[Any]:
    return st.none() | strategy


def _tags(*, liquid: bool = False) -> st.SearchStrategy[dict[str, str]]:
    """Tags; a send's values may be Liquid."""
    tags = [{}, {"campaign": "spring"}, {"a.b_c~d-e": "1"}, {f"k{n}": "v" for n in range(10)}]
    return st.sampled_from([*tags, {"who": "{{ name }}"}] if liquid else tags)


def _recipient() -> st.SearchStrategy[dict[str, Any]]:
    variables = st.dictionaries(
        st.sampled_from(["name", "vip", "code"]),
        pick(["Fred", "1", "", "ü", "x" * 10_000, 7, 2**63, -(10**30), 1e308, 5e-324, -0.0]),
        max_size=3,
    )
    phone = st.fixed_dictionaries(
        {"address": st.sampled_from(PHONES), "channel": st.sampled_from(["PHONE", "phone"])},
        optional={"variables": variables},
    )
    email = st.fixed_dictionaries(
        {"address": st.sampled_from(EMAILS), "channel": st.sampled_from(["EMAIL", "email"])}
    )
    whatsapp = st.fixed_dictionaries(
        {"address": st.sampled_from(WHATSAPP), "channel": st.just("WHATSAPP")}
    )
    several = st.fixed_dictionaries(
        {"addresses": st.lists(st.one_of(phone, email, whatsapp), min_size=1, max_size=3)}
    ).map(
        lambda r: {"addresses": [{k: a[k] for k in ("address", "channel")} for a in r["addresses"]]}
    )
    return st.one_of(phone, phone, email, whatsapp, several)


def _content(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    text = st.sampled_from(TEXTS)
    item = st.fixed_dictionaries({"url": st.sampled_from(MEDIA_URLS)})
    media = st.lists(item, max_size=2)
    modules = st.builds(
        lambda order, count: order[:count], st.permutations(MODULES), st.integers(1, len(MODULES))
    )
    return st.one_of(
        st.fixed_dictionaries({"text": text}),
        st.fixed_dictionaries({"text": text, "media": media}),
        st.fixed_dictionaries({"media": st.lists(item, min_size=1, max_size=2)}),
        st.fixed_dictionaries({"modules": modules}),
        st.fixed_dictionaries(
            {"contentId": to.ids("content")},
            optional={"variables": st.sampled_from([{}, {"1": "Ada"}, {"2": "x" * 1000}])},
        ),
    )


def valid_send(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    sender = st.one_of(
        st.fixed_dictionaries({"senderId": to.ids("sender")}),
        st.fixed_dictionaries({"senderPoolId": to.ids("pool")}),
        st.fixed_dictionaries(
            {
                "address": st.sampled_from(SENDER_ADDRESSES["SMS"]),
                "channel": st.sampled_from(["SMS", "sms"]),
            }
        ),
    )
    return st.fixed_dictionaries(
        {"to": st.lists(_recipient(), min_size=1, max_size=4), "content": _content(to)},
        optional={
            "from": _maybe(sender),
            "schedule": _maybe(st.fixed_dictionaries({"sendAt": st.lists(
                st.sampled_from(SEND_DATES), min_size=1, max_size=2)})),
            "callbacks": _maybe(st.fixed_dictionaries({"url": st.sampled_from(to.callback_urls)})),
            "tags": _tags(liquid=True),
        },
    )  # fmt: skip


def valid_content(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    """A content template of Twilio's Content API (snake_case), with the nulls
    twilio-python sends for what it does not set."""
    body = st.sampled_from(["Hi {{1}}", "{{1}} {{ 2 }} {{name}}", "{% if %}{{", "Ünï ✓ 👍"])
    action = st.fixed_dictionaries(
        {
            "type": st.sampled_from(["URL", "PHONE_NUMBER", "QUICK_REPLY", "quick_reply"]),
            "title": st.sampled_from(["Open", "Call {{1}}"]),
        },
        optional={
            "url": st.sampled_from([*MEDIA_URLS, "https://e.com/{{1}}"]),
            "phone": st.sampled_from(["+14155550100", "+1{{1}}"]),
            "id": st.sampled_from(["yes", None]),
            "code": st.none(),
        },
    )
    card = st.fixed_dictionaries(
        {},
        optional={
            "title": body,
            "body": body,
            "subtitle": st.sampled_from(["s", None]),
            "media": st.lists(st.sampled_from(MEDIA_URLS), max_size=1),
            "actions": st.lists(action, max_size=5),
        },
    )
    types = st.fixed_dictionaries(
        {},
        optional={
            "twilio/text": st.fixed_dictionaries({"body": body}),
            "twilio/media": st.fixed_dictionaries(
                {"media": st.lists(st.sampled_from(MEDIA_URLS), min_size=1, max_size=3)},
                optional={"body": body},
            ),
            "twilio/card": card,
            "whatsapp/template": st.fixed_dictionaries(
                {"name": st.sampled_from(["hello_world", "order_1"])},
                optional={"language": st.sampled_from(["en_US", "pt-BR"])},
            ),
            "twilio/location": st.none(),
        },
    )
    return st.fixed_dictionaries(
        {"language": st.sampled_from(["en", "pt_BR", "en-US"]), "types": types},
        optional={
            "friendly_name": st.sampled_from(["welcome", None, "Ünï"]),
            "variables": st.sampled_from([None, {}, {"1": "there"}, {"1": "a", "name": "b"}]),
        },
    )  # fmt: skip


def _channel_and_address() -> st.SearchStrategy[tuple[str, str]]:
    return st.sampled_from(
        [(channel, address) for channel, found in SENDER_ADDRESSES.items() for address in found]
    )


def _sender_changes() -> dict[str, st.SearchStrategy[Any]]:
    return {
        "status": st.sampled_from(["ACTIVATED", "DEACTIVATED", "deactivated"]),
        "tags": _tags(),
        "connector": st.sampled_from(["simulator", "smpp", "nope"]),
        "fallbackTimeout": st.sampled_from(DURATIONS),
        "receiptWait": st.sampled_from(DURATIONS),
    }


def valid_sender(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    def shape(pair: tuple[str, str], rest: dict[str, Any]) -> dict[str, Any]:
        channel, address = pair
        return {"address": address, "channel": channel, **rest}

    # the simulator carries every channel: the created senders answer 201 or 409 (exists)
    rest = st.fixed_dictionaries({}, optional=_sender_changes())
    return st.builds(shape, _channel_and_address(), rest)


def valid_sender_update(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional=_sender_changes())


def valid_pool(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "name": pick(["main", "Ünï pool", "x" * 256]),
            "senders": st.lists(to.ids("sender"), max_size=4),
            "tags": _tags(),
            "default": st.booleans(),
        },
    )


def valid_pool_members(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({"senders": st.lists(to.ids("sender"), min_size=1, max_size=3)})


def valid_message_search(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    """Twilio's Search Messages body (tags as an object)."""
    return st.fixed_dictionaries(
        {},
        optional={
            "operationId": to.ids("operation"),
            "status": st.sampled_from(["QUEUED", "read", "FAILED", "NOPE"]),
            "channel": st.sampled_from(["SMS", "rcs", "PHONE"]),
            "tags": st.dictionaries(st.sampled_from(["k", "campaign"]), st.sampled_from(["v"])),
            "address": st.sampled_from(PHONES + EMAILS),
            "sessionId": st.just("comms_session_01h9krwprkeee8fzqspvwy6nq8"),
        },
    )


def valid_sender_search(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {},
        optional={
            "address": st.sampled_from(PHONES + EMAILS),
            "channel": st.sampled_from(["SMS", "rcs", "EMAIL", "PHONE"]),
        },
    )


def valid_resolve(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    address = st.fixed_dictionaries(
        {
            "address": st.sampled_from(PHONES + EMAILS),
            "channel": st.sampled_from(["PHONE", "EMAIL", "WHATSAPP", "SMS"]),
        }
    )
    return st.fixed_dictionaries(
        {"recipientAddresses": st.lists(address, min_size=1, max_size=3)},
        optional={
            "senderPoolId": to.ids("pool"),
            "channels": st.fixed_dictionaries(
                {},
                optional={
                    "filterIn": st.lists(st.sampled_from(["SMS", "RCS", "EMAIL"]), max_size=3),
                    "priority": st.lists(
                        st.fixed_dictionaries(
                            {
                                "channel": st.sampled_from(["SMS", "EMAIL"]),
                                "priority": st.integers(0, 3),
                            }
                        ),
                        max_size=2,
                    ),
                },
            ),
        },
    )


def valid_opt_out(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"address": st.sampled_from(PHONES + EMAILS + WHATSAPP)},
        optional={"channel": st.sampled_from([None, "SMS", "WHATSAPP", "EMAIL", "RCS"])},
    )


def valid_api_key(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries({}, optional={"friendlyName": st.sampled_from(["ci", "Ünï", ""])})


def valid_sink(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"url": st.sampled_from(to.callback_urls)},
        optional={"description": pick(["", "ops", "x" * 512])},
    )


def valid_replay(_: Targets) -> st.SearchStrategy[dict[str, Any]]:
    dates = st.sampled_from(["2024-01-01T00:00:00Z", "2030-01-01T00:00:00Z", *FAR_DATES[:8]])
    return st.fixed_dictionaries({"startDate": dates}, optional={"endDate": dates})


def valid_subscription(to: Targets) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {"sinkId": to.ids("sink"), "types": st.lists(st.sampled_from(TYPE_PATTERNS), min_size=1)}
    )


def no_body(_: Targets) -> st.SearchStrategy[Any]:
    """A route that reads no body: mostly none, sometimes one anyway."""
    return st.sampled_from([None, None, None, {}, {"reason": "x"}])


# -- query strings --------------------------------------------------------------------------


def _token() -> st.SearchStrategy[str]:
    """Page tokens this API did not issue, some of them shaped like its own."""

    def encode(payload: bytes) -> str:
        return base64.urlsafe_b64encode(payload).decode().rstrip("=")

    shaped = st.builds(
        lambda bound, filters: encode(json.dumps({"b": bound, "f": filters}).encode()),
        st.sampled_from(["~", "comms_message_", "position_1", "position_-1", "a" * 100]),
        st.sampled_from(["", "0" * 16]),
    )
    return st.one_of(shaped, st.binary(max_size=40).map(encode), hostile_text(URL_TEXT))


def _paging() -> dict[str, st.SearchStrategy[str]]:
    return {
        "pageSize": st.sampled_from(["1", "50", "1000", "0", "1001", "-1", "1e3", "٣"]),
        "pageToken": _token(),
    }


def _dates() -> dict[str, st.SearchStrategy[str]]:
    dates = st.sampled_from(["2024-01-01T00:00:00Z", *FAR_DATES])
    return {"startDate": dates, "endDate": dates}


def _query(named: dict[str, st.SearchStrategy[str]]) -> st.SearchStrategy[dict[str, str]]:
    """Some of the route's parameters, each valid-looking or hostile, and stray ones."""
    values = {
        name: st.one_of(strategy, strategy, hostile_text(URL_TEXT))
        for name, strategy in named.items()
    }
    stray = st.dictionaries(hostile_text(40), hostile_text(URL_TEXT), max_size=2)
    return st.builds(
        lambda chosen, extra: {**extra, **chosen},
        st.fixed_dictionaries({}, optional=values),
        stray,
    )


def paging_query(_: Targets) -> st.SearchStrategy[dict[str, str]]:
    return _query(_paging())


def messages_query(to: Targets) -> st.SearchStrategy[dict[str, str]]:
    statuses = ["QUEUED", "delivered", "SCHEDULED", "READ", "FAILED", "CANCELED"]
    return _query(
        {
            **_paging(),
            **_dates(),
            "status": st.sampled_from(statuses),
            "channel": st.sampled_from(["SMS", "rcs", "WHATSAPP", "EMAIL", "PHONE"]),
            "operationId": to.ids("operation"),
            "operation_id": to.ids("operation"),
            "tags": st.sampled_from(["campaign:spring", "k:v;k2:v2;", "a:{{x}}", ";;", ":"]),
        }
    )


def contents_query(_: Targets) -> st.SearchStrategy[dict[str, str]]:
    """Twilio's paging: PageSize, Page, PageToken."""
    paging = _paging()
    return _query(
        {
            "PageSize": paging["pageSize"],
            "PageToken": paging["pageToken"],
            "Page": st.sampled_from(["0", "1", "-1", "999999999", "1e3"]),
        }
    )


def operations_query(_: Targets) -> st.SearchStrategy[dict[str, str]]:
    statuses = ["SCHEDULED", "processing", "COMPLETED", "CANCELED", "QUEUED"]
    return _query({**_paging(), **_dates(), "status": st.sampled_from(statuses)})


def senders_query(_: Targets) -> st.SearchStrategy[dict[str, str]]:
    return _query(
        {
            **_paging(),
            "status": st.sampled_from(["ACTIVATED", "deactivated", "ON"]),
            "channel": st.sampled_from(["SMS", "rcs", "EMAIL", "PHONE"]),
        }
    )
