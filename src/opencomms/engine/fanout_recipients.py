"""What an operation's recipients become at fan-out: a Message each, or unaddressable.

For each recipient: its candidate attempts (the operation's senders, in order, that can
reach one of its addresses), its content and tags rendered with its variables (rendered
in the renderer's child process: engine/rendering.py), and its SMS encoding and
segments. A recipient with no candidate is counted `unaddressable`; one whose templates
cannot be rendered is a FAILED Message (30099).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

import msgspec

from opencomms.domain.candidates import Candidate
from opencomms.domain.channels import SenderChannel, reaches
from opencomms.domain.errors import NO_CANDIDATE, TEMPLATE_FAILED, UNSTORABLE, UNSUBSCRIBED
from opencomms.domain.ids import new_message_id
from opencomms.domain.local_time import instant_ms, zone_of
from opencomms.domain.new_messages import FanoutChunk, NewMessage, Unaddressable
from opencomms.domain.opt_outs import opted_out_of
from opencomms.domain.personalization import is_template, map_strings, strings_in
from opencomms.domain.recipients import Recipient, RecipientAddress
from opencomms.domain.segments import SmsSize, measure
from opencomms.domain.statuses import MessageStatus
from opencomms.domain.storable import MAX_TAG_CHARS, is_storable
from opencomms.engine.rendering import Rendered
from opencomms.store.jsoncol import dump
from opencomms.store.new_messages import FanoutWork
from opencomms.store.records import SenderRecord

__all__ = ["build_chunk", "templates_of"]


def templates_of(spec: dict[str, Any]) -> dict[str, str]:
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
) -> FanoutChunk:
    """What the recipients [start, end) become: Messages, or unaddressable.
    `rendered`: each recipient's rendered texts, from `start` on; `opted_out`: addresses
    on the suppression list, and of which channel (None: all)."""
    maker = _MessageMaker(work, ordered, now, opted_out or {})
    chunk = FanoutChunk(start, end)
    for index in range(start, end):
        made = maker.make(index, rendered[index - start])
        if isinstance(made, Unaddressable):
            chunk.unaddressable.append(made)
        else:
            chunk.messages.append(made)
    return chunk


class _Body(msgspec.Struct, frozen=True):
    """What one recipient's Message says, or why it fails instead (then it says nothing)."""

    content: dict[str, Any]
    tags: dict[str, str]
    error: tuple[int, str] | None = None


def _body(spec: dict[str, Any], rendered: Rendered) -> _Body:
    if rendered.texts is None:  # e.g. over a bound with this recipient's variables
        why = f"{TEMPLATE_FAILED.message} {rendered.error}"
        return _Body({"text": ""}, {}, (TEMPLATE_FAILED.code, why))
    content, tags = _personalized(spec, rendered.texts)
    problem = _unstorable(content, tags)
    if problem is not None:  # this recipient fails alone; its chunk is stored
        return _Body({"text": ""}, {}, (UNSTORABLE.code, f"{UNSTORABLE.message} {problem}"))
    return _Body(content, tags)


class _MessageMaker:
    """Makes the Message of each recipient of one chunk (what the chunk shares is here)."""

    def __init__(
        self,
        work: FanoutWork,
        ordered: Sequence[SenderRecord],
        now: int,
        opted_out: Mapping[str, str | None],
    ) -> None:
        self._work = work
        self._ordered = ordered
        self._now = now
        self._opted_out = opted_out
        self._channel_of = {sender.id: sender.channel for sender in ordered}
        self._by_id = {sender.id: sender for sender in ordered}
        self._sms_ids = {s.id for s in ordered if s.channel == SenderChannel.SMS}
        local = work.spec.get("sendAtLocal")
        self._local_time = datetime.fromisoformat(local) if local else None

    def make(self, index: int, rendered: Rendered) -> NewMessage | Unaddressable:
        recipient = self._work.recipients[index]
        candidates = self._candidates(recipient.addresses)
        if not candidates:
            return Unaddressable(index, recipient, NO_CANDIDATE.code, NO_CANDIDATE.message)
        reachable = self._not_opted_out(candidates)
        body = _body(self._work.spec, rendered)
        error = body.error
        if error is None and not reachable:  # every way to reach the recipient is opted out
            error = (UNSUBSCRIBED.code, UNSUBSCRIBED.message)
        send_at = self._send_at(recipient)
        scheduled = send_at is not None and send_at > self._now
        due_at: int | None = None
        status = MessageStatus.FAILED
        if error is None:
            status = MessageStatus.SCHEDULED if scheduled else MessageStatus.QUEUED
            due_at = send_at if scheduled else self._now
        size = self._sms_size(body.content, reachable)
        return NewMessage(
            id=new_message_id(),
            account_sid=self._work.account_sid,
            operation_id=self._work.operation_id,
            recipient_index=index,
            status=status,
            recipient=[{"address": a.address, "channel": a.channel} for a in recipient.addresses],
            candidates=reachable,
            content=body.content,
            tags=body.tags,
            settled=error is not None,
            due_at=due_at,
            scheduled_for=send_at if scheduled else None,
            encoding=size.encoding if size else None,
            segments=size.segments if size else None,
            error_code=None if error is None else error[0],
            error_message=None if error is None else error[1],
            created_at=self._now,
            sender=self._planned_from(reachable),
        )

    def _planned_from(self, candidates: Sequence[Candidate]) -> dict[str, str] | None:
        """The `from` of the first way to try, with the pool the send named, if any."""
        if not candidates:
            return None
        sender = self._by_id[candidates[0].sender_id]
        planned = {"address": sender.address, "channel": sender.channel, "senderId": sender.id}
        pool = self._work.spec.get("senderPoolId")
        return planned if pool is None else {**planned, "senderPoolId": pool}

    def _candidates(self, addresses: Sequence[RecipientAddress]) -> list[Candidate]:
        """Every (address, sender) pair whose sender reaches the address's channel."""
        return [
            Candidate(a.address, a.channel, sender.id)
            for a in addresses
            for sender in self._ordered
            if reaches(sender.channel, a.channel)
        ]

    def _not_opted_out(self, candidates: list[Candidate]) -> list[Candidate]:
        if not self._opted_out:
            return candidates
        return [
            c
            for c in candidates
            if not opted_out_of(self._opted_out, c.address, self._channel_of[c.sender_id])
        ]

    def _send_at(self, recipient: Recipient) -> int | None:
        """When its Message is due: at the local time of its first address, if the send
        says one, else at the operation's `sendAt` (None: now)."""
        if self._local_time is None:
            return self._work.send_at
        return instant_ms(self._local_time, zone_of(recipient.addresses[0].address))

    def _sms_size(self, content: dict[str, Any], candidates: list[Candidate]) -> SmsSize | None:
        """The encoding and segments of its SMS text, if an SMS sender may send it."""
        sms_text = _sms_text(content)
        if sms_text is None or not any(c.sender_id in self._sms_ids for c in candidates):
            return None
        return measure(sms_text)


def _unstorable(content: dict[str, Any], tags: dict[str, str]) -> str | None:
    """Why this recipient's rendered data cannot be stored, if it cannot: a tag value (a
    text column, indexed) holding a NUL or a lone surrogate or longer than a tag may be,
    or content holding a lone surrogate (which no UTF-8 text, even JSON, can carry). Tag
    keys are the request's, checked at accept."""
    for key, value in tags.items():
        if not is_storable(value):
            return f"its tag {key} holds a NUL character or a lone surrogate."
        if len(value) > MAX_TAG_CHARS:
            return f"its tag {key} is over {MAX_TAG_CHARS} characters."
    try:
        dump(content)
    except UnicodeEncodeError:
        return "its content holds a lone surrogate."
    return None
