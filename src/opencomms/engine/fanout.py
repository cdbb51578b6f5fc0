"""Fan-out: one Message per addressable recipient, in chunks, with the bulk insert path.

For each recipient: its candidate attempts (the operation's senders, in order, that can
reach one of its addresses), its content and tags rendered with its variables (in the
renderer's child process, a chunk at a time: engine/rendering.py), and its SMS encoding
and segments. A recipient with no candidate is counted `unaddressable`; one whose
templates cannot be rendered is a FAILED Message (30099).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncGenerator, Callable, Mapping, Sequence
from contextlib import aclosing
from datetime import datetime
from functools import partial
from typing import Any

from opencomms.background.backoff import until_stored
from opencomms.background.wakeup import Wakeup
from opencomms.domain.channels import SenderChannel, reaches
from opencomms.domain.clock import now_ms
from opencomms.domain.errors import NO_CANDIDATE, TEMPLATE_FAILED, UNSTORABLE, UNSUBSCRIBED
from opencomms.domain.ids import new_message_id
from opencomms.domain.local_time import instant_ms, zone_of
from opencomms.domain.personalization import is_template, map_strings, strings_in
from opencomms.domain.segments import measure
from opencomms.domain.statuses import MessageStatus
from opencomms.domain.storable import MAX_TAG_CHARS, is_storable
from opencomms.engine.rendering import Rendered, Renderer
from opencomms.store import jobs, new_messages, operations, opt_outs, senders
from opencomms.store.database import Conn, Database
from opencomms.store.jsoncol import dump
from opencomms.store.new_messages import FanoutWork
from opencomms.store.opt_outs import opted_out_of
from opencomms.store.records import SenderRecord

__all__ = ["FanoutWorker", "build_chunk"]

log = logging.getLogger(__name__)

CHUNK = 1_000
LEASE_MS = 60_000
IDLE_POLL_S = 0.2
RETRY_MS = 5_000


class FanoutWorker:
    def __init__(
        self,
        db: Database,
        renderer: Renderer,
        on_messages: Callable[[], None],
        *,
        max_backoff_s: float = 5.0,
    ) -> None:
        self._db = db
        self._renderer = renderer
        self._max_backoff_s = max_backoff_s
        self._on_messages = on_messages
        self._wakeup = Wakeup(IDLE_POLL_S)

    def wake(self) -> None:
        self._wakeup.ring()

    async def run(self) -> None:
        while True:
            refs = await self._db.write(
                lambda conn: jobs.claim(conn, "fanout", now=now_ms(), lease_ms=LEASE_MS, limit=1)
            )
            if not refs:
                await self._wakeup.wait()
                continue
            for operation_id in refs:
                try:
                    # while the database is away, this operation waits and goes on after
                    await until_stored(
                        partial(self.fan_out, operation_id),
                        f"fan-out of {operation_id}",
                        self._max_backoff_s,
                    )
                except Exception:
                    log.exception("fan-out of %s failed; retrying", operation_id)
                    await self._db.write(
                        partial(
                            jobs.retry_later,
                            kind="fanout",
                            ref=operation_id,
                            run_at=now_ms() + RETRY_MS,
                        )
                    )

    async def fan_out(self, operation_id: str) -> None:
        work = await self._db.read(lambda conn: new_messages.load_work(conn, operation_id))
        if work is None:
            await self._db.write(lambda conn: jobs.finish(conn, "fanout", operation_id))
            return
        pool = await self._db.read(lambda conn: senders.get_senders(conn, work.spec["senders"]))
        ordered = [pool[i] for i in work.spec["senders"] if i in pool]
        templates = _templates(work.spec)
        async with aclosing(self._rendered_chunks(work, templates)) as chunks:
            async for start, end, rendered in chunks:
                opted_out = await self._db.read(
                    partial(_opted_out, work=work, start=start, end=end)
                )
                chunk = build_chunk(work, start, end, ordered, rendered, now_ms(), opted_out)
                stored = await self._db.write(partial(_store, work=work, chunk=chunk))
                if not stored:
                    return
                self._on_messages()
                await asyncio.sleep(0)

    async def _rendered_chunks(
        self, work: FanoutWork, templates: dict[str, str]
    ) -> AsyncGenerator[tuple[int, int, list[Rendered]], None]:
        """(start, end, each recipient's rendering) of every chunk left. The next chunk is
        given to the renderer before this one is handed over, so that it renders while
        this one is stored."""
        total = len(work.recipients)
        bounds = [(start, min(start + CHUNK, total)) for start in range(work.cursor, total, CHUNK)]
        if not bounds:
            return
        rendering = asyncio.create_task(self._render(work, templates, *bounds[0]))
        try:
            for index, (start, end) in enumerate(bounds):
                rendered = await rendering
                if index + 1 < len(bounds):
                    next_chunk = bounds[index + 1]
                    rendering = asyncio.create_task(self._render(work, templates, *next_chunk))
                yield start, end, rendered
        finally:
            rendering.cancel()

    async def _render(
        self, work: FanoutWork, templates: dict[str, str], start: int, end: int
    ) -> list[Rendered]:
        variables = [recipient.get("variables") for recipient in work.recipients[start:end]]
        return await self._renderer.render(templates, variables)


class Chunk:
    def __init__(self, start: int, end: int) -> None:
        self.start = start
        self.end = end
        self.messages: list[tuple[Any, ...]] = []
        self.tags: list[tuple[str, str, str]] = []
        self.unaddressable: list[tuple[str, int, str, int, str]] = []


async def _opted_out(conn: Conn, work: FanoutWork, start: int, end: int) -> dict[str, str | None]:
    addresses = {
        address for recipient in work.recipients[start:end] for address, _ in recipient["addresses"]
    }
    return await opt_outs.suppressed_channels(conn, work.account_sid, sorted(addresses))


async def _store(conn: Conn, work: FanoutWork, chunk: Chunk) -> bool:
    now = now_ms()
    stored = await new_messages.insert_chunk(
        conn,
        work,
        start=chunk.start,
        end=chunk.end,
        messages=chunk.messages,
        tags=chunk.tags,
        unaddressable=chunk.unaddressable,
        now=now,
    )
    if stored and chunk.end == len(work.recipients):
        await operations.complete_settled(conn, [work.operation_id], now)
    return stored


def _templates(spec: dict[str, Any]) -> dict[str, str]:
    """Every templated text of the operation by its path: content and tag values."""
    templates: dict[str, str] = {}
    content = spec["content"]
    if isinstance(content.get("text"), str) and is_template(content["text"]):
        templates["text"] = content["text"]
    for path, value in strings_in(content.get("modules") or {}, "modules"):
        if is_template(value):
            templates[path] = value
    for key, value in (spec.get("tags") or {}).items():
        if is_template(value):
            templates[f"tags.{key}"] = value
    return templates


def _personalized(
    spec: dict[str, Any], texts: dict[str, str]
) -> tuple[dict[str, Any], dict[str, str]]:
    """The operation's content and tags with one recipient's rendered `texts` in place."""
    content = dict(spec["content"])
    if "text" in texts:
        content["text"] = texts["text"]
    if content.get("modules") and texts:
        content["modules"] = map_strings(content["modules"], texts.get, "modules")
    tags = {key: texts.get(f"tags.{key}", value) for key, value in (spec.get("tags") or {}).items()}
    return content, tags


def _sms_text(content: dict[str, Any]) -> str | None:
    modules = content.get("modules") or {}
    sms = modules.get("sms")
    if isinstance(sms, dict) and isinstance(sms.get("text"), str):
        return str(sms["text"])
    text = content.get("text")
    return text if isinstance(text, str) else None


def build_chunk(
    work: FanoutWork,
    start: int,
    end: int,
    ordered: Sequence[SenderRecord],
    rendered: Sequence[Rendered],
    now: int,
    opted_out: Mapping[str, str | None] | None = None,
) -> Chunk:
    """The rows for recipients [start, end): Messages, their tags, and the unaddressable.
    `rendered`: each recipient's rendered texts, from `start` on; `opted_out`: addresses
    on the suppression list, and of which channel (None: all)."""
    opted_out = opted_out or {}
    channel_of = {sender.id: sender.channel for sender in ordered}
    local = work.spec.get("sendAtLocal")
    local_time = datetime.fromisoformat(local) if local else None
    chunk = Chunk(start, end)
    for index in range(start, end):
        recipient = work.recipients[index]
        addresses: list[list[str]] = recipient["addresses"]
        send_at = instant_ms(local_time, zone_of(addresses[0][0])) if local_time else work.send_at
        scheduled = send_at is not None and send_at > now
        status = MessageStatus.SCHEDULED if scheduled else MessageStatus.QUEUED
        due_at = send_at if scheduled else now
        candidates = [
            [address, channel, sender.id]
            for address, channel in addresses
            for sender in ordered
            if reaches(sender.channel, channel)
        ]
        if not candidates:
            chunk.unaddressable.append(
                (work.operation_id, index, dump(recipient), NO_CANDIDATE.code, NO_CANDIDATE.message)
            )
            continue
        row_status, row_due, settled = status, due_at, 0
        error: tuple[int | None, str | None] = (None, None)
        if opted_out:
            candidates = [
                c for c in candidates if not opted_out_of(opted_out, c[0], channel_of[c[2]])
            ]
            if not candidates:  # every way to reach the recipient is opted out
                row_status, row_due, settled = MessageStatus.FAILED, None, 1
                error = (UNSUBSCRIBED.code, UNSUBSCRIBED.message)
        texts = rendered[index - start].texts
        if texts is not None:
            content, tags = _personalized(work.spec, texts)
        else:  # e.g. over a bound with this recipient's variables: nothing is sent
            content, tags = {"text": ""}, {}
            row_status, row_due, settled = MessageStatus.FAILED, None, 1
            why = rendered[index - start].error
            error = (TEMPLATE_FAILED.code, f"{TEMPLATE_FAILED.message} {why}")
        stored_content, problem = _stored_content(content, tags)
        if problem is not None:  # this recipient fails alone; its chunk is stored
            content, tags, stored_content = {"text": ""}, {}, _EMPTY_CONTENT
            row_status, row_due, settled = MessageStatus.FAILED, None, 1
            error = (UNSTORABLE.code, f"{UNSTORABLE.message} {problem}")
        sms_text = _sms_text(content)
        size = measure(sms_text) if sms_text is not None and _any_sms(candidates, ordered) else None
        message_id = new_message_id()
        chunk.messages.append(
            (
                message_id,
                work.account_sid,
                work.operation_id,
                index,
                row_status,
                dump([{"address": a, "channel": c} for a, c in addresses]),
                dump(candidates),
                len(candidates),
                stored_content,
                dump(tags),
                None,
                None,
                0,
                0,
                None,
                settled,
                row_due,
                send_at if scheduled else None,
                size.encoding if size else None,
                size.segments if size else None,
                *error,
                now,
                now,
            )
        )
        chunk.tags.extend((message_id, key, value) for key, value in tags.items())
    return chunk


_EMPTY_CONTENT = dump({"text": ""})


def _stored_content(content: dict[str, Any], tags: dict[str, str]) -> tuple[str, str | None]:
    """The content as stored (JSON text), and why this recipient's rendered data cannot
    be stored, if it cannot: a tag value (a text column, indexed) holding a NUL or a lone
    surrogate or longer than a tag may be, or content holding a lone surrogate (which no
    UTF-8 text, even JSON, can carry). Tag keys are the request's, checked at accept."""
    for key, value in tags.items():
        if not is_storable(value):
            return "", f"its tag {key} holds a NUL character or a lone surrogate."
        if len(value) > MAX_TAG_CHARS:
            return "", f"its tag {key} is over {MAX_TAG_CHARS} characters."
    try:
        return dump(content), None
    except UnicodeEncodeError:
        return "", "its content holds a lone surrogate."


def _any_sms(candidates: list[list[str]], ordered: Sequence[SenderRecord]) -> bool:
    sms_ids = {s.id for s in ordered if s.channel == SenderChannel.SMS}
    return any(candidate[2] in sms_ids for candidate in candidates)
