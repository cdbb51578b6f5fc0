"""`/v1/Content`: content templates, as Twilio's Content API serves them (create, list,
fetch, delete), and what a send naming one (`content.contentId`) is given instead.

The resource is Twilio's, in its own shapes (snake_case, `sid` HX…, a list page of
`contents` with `meta`), so that twilio-python's `client.content.v1.contents` works with
its base URL pointed here. Dates are `YYYY-MM-DDTHH:MM:SSZ`, the form twilio-python reads.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Sequence
from typing import Any
from urllib.parse import urlencode

import msgspec
from litestar import Request, Response, delete, get, post
from litestar.params import FromPath

from opencomms.api.common import (
    account_of,
    base_url_of,
    json_body,
    json_response,
    page_of,
    prefix_of,
    runtime_of,
)
from opencomms.api.content_request import parse_content_request
from opencomms.api.errors import FieldError, invalid, not_found
from opencomms.api.paging import unknown_filters
from opencomms.domain.channels import reaches
from opencomms.domain.clock import now_ms, rfc3339
from opencomms.domain.content_templates import channel_modules, fallback_text, to_liquid
from opencomms.domain.ids import CONTENT_SID_RE, new_content_sid
from opencomms.domain.personalization import (
    TemplateError,
    TemplateLimits,
    compile_template,
    is_template,
    strings_in,
)
from opencomms.settings import Settings
from opencomms.store import content as content_store
from opencomms.store import senders
from opencomms.store.content import ContentRecord
from opencomms.store.database import Conn

__all__ = [
    "create_content",
    "delete_content",
    "fetch_content",
    "list_contents",
    "template_content",
]

AnyRequest = Request[Any, Any, Any]
CONTENT_ID = "content.contentId"
_PAGE_NUMBER = re.compile(r"[0-9]{1,9}")


def _date(ms: int) -> str:
    """Twilio's form of a date-time: whole seconds, `Z`."""
    return rfc3339(ms - ms % 1000).replace(".000Z", "Z")


def _canonical(sid: str) -> str:
    """A SID as stored: its hex in lower case (Twilio's SIDs take either case)."""
    return sid[:2] + sid[2:].lower()


def content_json(record: ContentRecord, base: str) -> dict[str, Any]:
    """Twilio's Content resource; `base`: the URL of `/v1/Content` on this server."""
    return {
        "sid": record.sid,
        "account_sid": record.account_sid,
        "friendly_name": record.friendly_name,
        "language": record.language,
        "variables": record.variables,
        "types": record.types,
        "url": f"{base}/{record.sid}",
        "links": {},  # no approval requests here: WhatsApp approval happens at Meta
        "date_created": _date(record.created_at),
        "date_updated": _date(record.updated_at),
    }


def _collection(request: AnyRequest) -> str:
    return f"{base_url_of(request)}{prefix_of(request)}/Content"


@post("/Content", status_code=201)
async def create_content(request: AnyRequest) -> Response[bytes]:
    runtime = runtime_of(request)
    parsed, errors = parse_content_request(await json_body(request), runtime.settings.input)
    if errors:
        raise invalid(errors)
    now = now_ms()
    record = ContentRecord(
        sid=new_content_sid(),
        account_sid=account_of(request),
        friendly_name=parsed.friendly_name,
        language=parsed.language,
        variables=parsed.variables,
        types=parsed.types,
        created_at=now,
        updated_at=now,
    )
    await runtime.db.write(lambda conn: content_store.insert_content(conn, record))
    return json_response(content_json(record, _collection(request)), status=201)


def _page_url(base: str, size: int, number: int, token: str | None) -> str:
    query: dict[str, Any] = {"PageSize": size, "Page": number}
    if token:
        query["PageToken"] = token
    return f"{base}?{urlencode(query)}"


@get("/Content")
async def list_contents(request: AnyRequest) -> Response[bytes]:
    """Newest first, in Twilio's paging: `PageSize`, `Page` (a counter that is only
    echoed) and `PageToken` (opaque, keyset); `meta` has the URLs of the pages."""
    query = request.query_params
    paging = {
        ours: query[name]
        for ours, names in (
            ("pageSize", ("PageSize", "pageSize")),
            ("pageToken", ("PageToken", "pageToken")),
        )
        for name in names
        if name in query
    }
    errors = unknown_filters(query, ("Page",))
    page = page_of(request, paging, errors)
    number = query.get("Page", "0")
    if not _PAGE_NUMBER.fullmatch(number):
        errors.append(FieldError("Page", "must be a page number: 0, 1, 2, …"))
    if errors:
        raise invalid(errors)
    account = account_of(request)
    rows = await runtime_of(request).db.read(
        lambda conn: content_store.list_contents(
            conn, account, before=page.before, limit=page.size + 1
        )
    )
    shown = rows[: page.size]
    base = _collection(request)
    more = len(rows) > page.size and bool(shown)
    next_token = page.tokens.encode(shown[-1].sid, page.filters) if more else None
    current = int(number)
    meta = {
        "page": current,
        "page_size": page.size,
        "first_page_url": _page_url(base, page.size, 0, None),
        "previous_page_url": None,  # keyset pages go forward only
        "url": _page_url(base, page.size, current, paging.get("pageToken")),
        "next_page_url": _page_url(base, page.size, current + 1, next_token) if more else None,
        "key": "contents",
    }
    return json_response({"contents": [content_json(r, base) for r in shown], "meta": meta})


@get("/Content/{sid:str}")
async def fetch_content(request: AnyRequest, sid: FromPath[str]) -> Response[bytes]:
    account = account_of(request)
    found = (
        await runtime_of(request).db.read(
            lambda conn: content_store.get_content(conn, account, _canonical(sid))
        )
        if CONTENT_SID_RE.match(sid)
        else None
    )
    if found is None:
        raise not_found("Content", sid)
    return json_response(content_json(found, _collection(request)))


@delete("/Content/{sid:str}", status_code=204)
async def delete_content(request: AnyRequest, sid: FromPath[str]) -> None:
    """Sends already accepted keep what the template made of them (the modules were
    made when they were accepted)."""
    account = account_of(request)
    if not CONTENT_SID_RE.match(sid) or not await runtime_of(request).db.write(
        lambda conn: content_store.delete_content(conn, account, _canonical(sid))
    ):
        raise not_found("Content", sid)


async def template_content(
    conn: Conn,
    account: str,
    content: dict[str, Any],
    sender_ids: Sequence[str],
    recipient_channels: Collection[str],
    settings: Settings,
) -> dict[str, Any] | FieldError:
    """A send's `{contentId, variables?}` as the content it stores: the template's module
    for each channel (domain/content_templates.py) and its text, or the problem with
    `content.contentId`: no such template, one with nothing for the channel of a sender
    (of `sender_ids`) that can reach one of the `recipient_channels`, or one too large
    with these variables."""
    sid = content["contentId"]
    record = await content_store.get_content(conn, account, _canonical(sid))
    if record is None:
        return FieldError(CONTENT_ID, f"no content template {sid} in this account")
    defaults = {**record.variables, **content.get("variables", {})}
    modules = channel_modules(record.types, record.language, list(record.variables), defaults)
    used = await senders.get_senders(conn, sender_ids)
    reaching = {
        sender.channel
        for sender in used.values()
        if any(reaches(sender.channel, channel) for channel in recipient_channels)
    }
    missing = sorted(reaching - {channel.upper() for channel in modules})
    if missing:
        return FieldError(
            CONTENT_ID,
            f"the template has nothing to send on {', '.join(missing)} (only"
            " whatsapp/template): add twilio/text, or send from senders of its channels",
        )
    made: dict[str, Any] = {"contentId": record.sid, "modules": modules}
    text = fallback_text(record.types)
    if text:
        made["text"] = to_liquid(text, defaults)
    problem = _made_problem(made, settings.input.max_module_chars, settings.templates.limits)
    return FieldError(CONTENT_ID, problem) if problem else made


def _made_problem(made: dict[str, Any], max_chars: int, limits: TemplateLimits) -> str | None:
    """Why the content a template made cannot be sent: a module over the size bound, or a
    string that is no template within the bounds."""
    for channel, module in made["modules"].items():
        if len(msgspec.json.encode(module)) > max_chars:
            return (
                f"with these variables, the template's {channel} module is over"
                f" {max_chars} characters as JSON"
            )
    for path, text in strings_in(made):
        if is_template(text):
            try:
                compile_template(text, limits)
            except TemplateError as error:
                return f"the template's {path} cannot be rendered: {error}"
    return None
