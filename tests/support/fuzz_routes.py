"""Every route of the API (src/opencomms/app.py) as a strategy of requests for the fuzz run.

Each route has a body of the shape the contract gives it (fuzz_shapes.py), which
`mutated` then damages (a value replaced by a hostile one, a field dropped, an unknown
one added) or leaves whole, so that checks deep inside a handler are reached, and some
requests are accepted. Ids in paths and bodies are the acting account's own objects, the
other account's (it must never get them), or garbage. Requests go out as either account,
with its token, one of its API keys, or bad credentials; now and then with another
method, another Content-Type or under `/preview`.
"""

from __future__ import annotations

import base64
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from functools import cache
from typing import Any
from urllib.parse import quote

from hypothesis import strategies as st

from tests.support.fuzz_shapes import (
    REFUSED_URLS,
    Ids,
    Targets,
    contents_query,
    messages_query,
    no_body,
    operations_query,
    paging_query,
    senders_query,
    valid_api_key,
    valid_content,
    valid_message_search,
    valid_opt_out,
    valid_pool,
    valid_pool_members,
    valid_replay,
    valid_resolve,
    valid_send,
    valid_sender,
    valid_sender_search,
    valid_sender_update,
    valid_sink,
    valid_subscription,
)
from tests.support.fuzz_values import URL_TEXT, encode_json, hostile_text, mutated, pick

__all__ = ["ROUTES", "Account", "FuzzRequest", "Route", "fuzz_requests"]

CONTENT_TYPES = [
    "text/plain",
    "application/json; charset=utf-8",
    "APPLICATION/JSON",
    "application/jsonx",
    "application/json;",
    "multipart/form-data; boundary=x",
    "",
]
IDEMPOTENCY_KEYS = ["k1", "k2", "x" * 4000, "a b", "é", ""]


@dataclass(frozen=True)
class Account:
    """One account of the run: its credentials, and the objects its requests aim at.

    `ids` live through the run (kind -> ids); `expendable` are for the DELETE routes.
    """

    sid: str
    token: str
    key: tuple[str, str]
    ids: Mapping[str, Sequence[str]]
    expendable: Mapping[str, Sequence[str]]

    def all_ids(self) -> set[str]:
        """Every object id of the account (an opt-out's address is not an id)."""
        found: set[str] = set()
        for table in (self.ids, self.expendable):
            for kind, ids in table.items():
                if kind != "optout":
                    found.update(ids)
        return found


@dataclass(frozen=True)
class FuzzRequest:
    route: str  # "METHOD /template", for reports
    method: str
    url: str  # path and query, from the server's root
    headers: list[tuple[bytes, bytes]]
    body: bytes | None
    # the request names an object of the other account: in the path or body (it must
    # not succeed), or in the query (a list filtered by it must be empty)
    foreign: bool = False
    foreign_query: bool = False

    def describe(self, limit: int = 600) -> str:
        body = "" if self.body is None else self.body[:limit].decode("utf-8", "replace")
        headers = {k.decode(): v.decode("latin-1")[:80] for k, v in self.headers}
        headers.pop("Authorization", None)
        return f"{self.method} {self.url[:limit]} {headers} {body}"


@dataclass(frozen=True)
class Route:
    method: str
    template: str  # "/Senders/{sender}": a {kind} is an id of that kind
    query: Callable[[Targets], st.SearchStrategy[dict[str, str]]] | None = None
    body: Callable[[Targets], st.SearchStrategy[Any]] | None = None
    weight: int = 1
    deletes: bool = False  # path ids come from the expendable ones
    searches: bool = False  # the body holds a list's filters: another's id must find nothing


# -- the routes of src/opencomms/app.py -----------------------------------------------------

ROUTES = [
    Route("POST", "/Messages", body=valid_send, weight=8),
    Route("GET", "/Messages", query=messages_query, weight=3),
    Route("GET", "/Messages/{message}"),
    Route("GET", "/Messages/Operations", query=operations_query, weight=2),
    Route("GET", "/Messages/Operations/{operation}"),
    Route("POST", "/Messages/Operations/{operation}/Cancel", body=no_body),
    Route("GET", "/Messages/Operations/{operation}/Errors", query=paging_query),
    Route("POST", "/Messages/Search", query=paging_query, body=valid_message_search, searches=True),
    Route("POST", "/Messages/{message}/Cancel", body=no_body),
    Route("POST", "/Senders", body=valid_sender, weight=3),
    Route("GET", "/Senders", query=senders_query),
    Route("GET", "/Senders/{sender}"),
    Route("POST", "/Senders/Search", query=paging_query, body=valid_sender_search, searches=True),
    Route("POST", "/Senders/Resolve", body=valid_resolve),
    Route("POST", "/Senders/{sender}", body=valid_sender_update, weight=2),
    Route("PATCH", "/Senders/{sender}", body=valid_sender_update, weight=2),
    Route("DELETE", "/Senders/{sender}", deletes=True),
    Route("POST", "/SenderPools", body=valid_pool, weight=2),
    Route("GET", "/SenderPools", query=paging_query),
    Route("GET", "/SenderPools/Operations", query=paging_query),
    Route("GET", "/SenderPools/{pool}"),
    Route("POST", "/SenderPools/{pool}", body=valid_pool, weight=2),
    Route("PATCH", "/SenderPools/{pool}", body=valid_pool, weight=2),
    Route("DELETE", "/SenderPools/{pool}", deletes=True),
    Route("GET", "/SenderPools/{pool}/Senders", query=paging_query),
    Route("POST", "/SenderPools/{pool}/Senders", body=valid_pool_members, weight=2),
    Route("DELETE", "/SenderPools/{pool}/Senders/{sender}"),
    Route("POST", "/ApiKeys", body=valid_api_key),
    Route("GET", "/ApiKeys"),
    Route("DELETE", "/ApiKeys/{apikey}", deletes=True),
    Route("POST", "/OptOuts", body=valid_opt_out, weight=2),
    Route("GET", "/OptOuts", query=paging_query),
    Route("GET", "/OptOuts/{optout}"),
    Route("DELETE", "/OptOuts/{optout}", deletes=True),
    Route("GET", "/Account"),
    Route("POST", "/Sinks", body=valid_sink, weight=2),
    Route("GET", "/Sinks", query=paging_query),
    Route("GET", "/Sinks/{sink}"),
    Route("DELETE", "/Sinks/{sink}", deletes=True),
    Route("GET", "/Sinks/{sink}/Deliveries"),
    Route("POST", "/Sinks/{sink}/Replay", body=valid_replay, weight=2),
    Route("POST", "/Subscriptions", body=valid_subscription, weight=2),
    Route("GET", "/Subscriptions", query=paging_query),
    Route("GET", "/Subscriptions/{subscription}"),
    Route("DELETE", "/Subscriptions/{subscription}", deletes=True),
    Route("POST", "/Content", body=valid_content, weight=3),
    Route("GET", "/Content", query=contents_query),
    Route("GET", "/Content/{content}"),
    Route("DELETE", "/Content/{content}", deletes=True),
]


# -- requests -------------------------------------------------------------------------------


def _basic(username: str, secret: str) -> bytes:
    return b"Basic " + base64.b64encode(f"{username}:{secret}".encode())


def _credentials(account: Account) -> st.SearchStrategy[bytes]:
    wrong = [
        _basic(account.sid, "0" * 32),
        _basic(account.key[0], account.token),
        b"Basic " + base64.b64encode(b"\xff:\xfe"),
        b"Bearer " + account.token.encode(),
        b"Basic",
    ]
    token, key = _basic(account.sid, account.token), _basic(*account.key)
    # the token 30 times in 37, an API key twice, each kind of wrong credentials once
    return st.sampled_from([token] * 30 + [key] * 2 + wrong)


def _encode_segment(text: str) -> str:
    return quote(text.encode("utf-8", "surrogatepass"), safe="")


def _encode_query(query: dict[str, str]) -> str:
    return "&".join(f"{_encode_segment(k)}={_encode_segment(v)}" for k, v in query.items())


def _id_strategy(acting: Account, other: Account, deletes: bool) -> Ids:
    @cache
    def ids(kind: str) -> st.SearchStrategy[str]:
        own = st.sampled_from((acting.expendable if deletes else acting.ids)[kind])
        return st.one_of(own, own, own, st.sampled_from(other.ids[kind]), hostile_text(URL_TEXT))

    return ids


def _path(template: str, ids: Ids) -> st.SearchStrategy[str]:
    """The template with each `{kind}` replaced by an id of that kind (URL-encoded)."""
    parts = template.split("/")
    return st.tuples(
        *[
            ids(part[1:-1]).map(_encode_segment) if part.startswith("{") else st.just(part)
            for part in parts
        ]
    ).map("/".join)


def _route_requests(
    route: Route, acting: Account, other: Account, callback_urls: Sequence[str]
) -> st.SearchStrategy[FuzzRequest]:
    """Requests on `route` as `acting`; every strategy is built here, once."""
    ids = _id_strategy(acting, other, route.deletes)
    targets = Targets(ids, callback_urls)
    sends = route.template == "/Messages" and route.method == "POST"
    other_methods = ["GET", "PUT", "PATCH", "DELETE", "OPTIONS"]
    parts = {
        # now and then, a method the route may not have
        "method": st.sampled_from([route.method] * 40 + other_methods),
        "prefix": st.sampled_from(["/v1"] * 6 + ["/preview"]),
        "path": _path(route.template, ids),
        "query": route.query(targets) if route.query else st.just({}),
        "body": mutated(route.body(targets)) if route.body else st.none(),
        "ascii": st.booleans(),
        "authorization": _credentials(acting),
        "content_type": st.sampled_from(["application/json"] * 40 + CONTENT_TYPES),
        "idempotency_key": pick([None] * 9 + [*IDEMPOTENCY_KEYS]) if sends else st.none(),
    }  # fmt: skip
    foreign_ids = other.all_ids()

    def assemble(drawn: dict[str, Any]) -> FuzzRequest:
        path, query, method = drawn["prefix"] + drawn["path"], drawn["query"], drawn["method"]
        headers = [(b"Authorization", drawn["authorization"])]
        body = None
        if drawn["body"] is not None:
            body = encode_json(drawn["body"], ascii_only=drawn["ascii"])
            if drawn["content_type"]:
                headers.append((b"Content-Type", drawn["content_type"].encode()))
        if drawn["idempotency_key"] is not None:
            headers.append((b"Idempotency-Key", drawn["idempotency_key"].encode()))
        body_text = body.decode("utf-8", "replace") if body else ""
        text = path + ("" if route.searches else body_text)
        filters = [*query.values(), *([body_text] if route.searches else [])]
        return FuzzRequest(
            route=f"{route.method} {route.template}",
            method=method,
            url=path + ("?" + _encode_query(query) if query else ""),
            headers=headers,
            body=body,
            foreign=method == route.method and any(i in text for i in foreign_ids),
            foreign_query=any(i in v for v in filters for i in foreign_ids),
        )

    return st.fixed_dictionaries(parts).map(assemble)


def _stray_requests(acting: Account) -> st.SearchStrategy[FuzzRequest]:
    """A path no route has: a 404 in the contract's body."""
    return st.builds(
        lambda segment, method, prefix: FuzzRequest(
            route="? unknown path",
            method=method,
            url=prefix + "/" + _encode_segment(segment),
            headers=[(b"Authorization", _basic(acting.sid, acting.token))],
            body=None,
        ),
        hostile_text(URL_TEXT),
        st.sampled_from(["GET", "POST", "DELETE"]),
        st.sampled_from(["/v1", "/preview", ""]),
    )


def fuzz_requests(
    accounts: tuple[Account, Account], receiver: str
) -> st.SearchStrategy[FuzzRequest]:
    """One request of the run: as either account, on any route (by weight), or astray.
    `receiver` is the URL of a webhook receiver on loopback."""
    first, second = accounts
    callback_urls = [receiver + "/hook", receiver + "/x?y=%00", *REFUSED_URLS]
    branches = [
        requests
        for acting, other in ((first, second), (second, first))
        for route in ROUTES
        for requests in [_route_requests(route, acting, other, callback_urls)] * route.weight
    ]
    return st.one_of(*branches, _stray_requests(first), _stray_requests(second))
