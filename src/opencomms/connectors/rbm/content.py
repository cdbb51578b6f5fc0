"""An RBM `AgentMessage` from a submission's `rcs` content module (docs/channel-content.md).

Text, one media file, a rich card or a carousel, with the module's suggestions; the
message's `ttl` is the submission's delivery window. What RBM itself refuses (a text
too long, too many cards) is left to RBM: its 400 fails the attempt. Only what cannot
be put in RBM's shape at all is refused here (`ContentError`).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["ContentError", "agent_message", "content_message", "ttl"]

DEFAULT_HEIGHT = "MEDIUM"
DEFAULT_CARD_WIDTH = "MEDIUM"


class ContentError(ValueError):
    """The content cannot be sent as an RBM message."""


def agent_message(content: Mapping[str, Any], valid_for_ms: int = 0) -> dict[str, Any]:
    """The body of `phones.agentMessages.create`."""
    message: dict[str, Any] = {"contentMessage": content_message(content)}
    if valid_for_ms > 0:
        message["ttl"] = ttl(valid_for_ms)
    return message


def ttl(valid_for_ms: int) -> str:
    """A protobuf Duration as JSON writes it: `90s`, `1.5s`."""
    seconds, ms = divmod(valid_for_ms, 1000)
    return f"{seconds}.{ms:03d}s" if ms else f"{seconds}s"


def content_message(content: Mapping[str, Any]) -> dict[str, Any]:
    """RBM's `AgentContentMessage` for one module: carousel, card, media, text."""
    message = _body(content)
    suggestions = content.get("suggestions")
    if suggestions:
        message["suggestions"] = _list(suggestions, "suggestions")
    return message


def _body(content: Mapping[str, Any]) -> dict[str, Any]:
    text = content.get("text")
    if text is not None and not isinstance(text, str):
        raise ContentError("rcs: text is not a string")
    if "carousel" in content:
        return {"richCard": {"carouselCard": _carousel(_mapping(content["carousel"], "carousel"))}}
    if "card" in content:
        return {"richCard": {"standaloneCard": _standalone(_card(content["card"]))}}
    media = content.get("media")
    if media:
        url = _media_url(media)
        if text:
            card = {"description": text, "media": _card_media({"url": url})}
            return {"richCard": {"standaloneCard": _standalone(card)}}
        return {"contentInfo": {"fileUrl": url}}
    if text:
        return {"text": text}
    raise ContentError("rcs: nothing to send (no text, media, card or carousel)")


def _standalone(card: dict[str, Any]) -> dict[str, Any]:
    return {"cardOrientation": "VERTICAL", "cardContent": card}


def _carousel(carousel: Mapping[str, Any]) -> dict[str, Any]:
    cards = _list(carousel.get("cards"), "carousel.cards")
    return {
        "cardWidth": carousel.get("cardWidth") or DEFAULT_CARD_WIDTH,
        "cardContents": [_card(card) for card in cards],
    }


def _card(card: object) -> dict[str, Any]:
    """RBM's `CardContent`: title, description, media, suggestions as given."""
    fields = _mapping(card, "card")
    content: dict[str, Any] = {
        name: fields[name]
        for name in ("title", "description", "suggestions")
        if fields.get(name) not in (None, "", [])
    }
    if fields.get("media"):
        content["media"] = _card_media(_mapping(fields["media"], "card.media"))
    if not content:
        raise ContentError("rcs: a card needs a title, a description or media")
    return content


def _card_media(media: Mapping[str, Any]) -> dict[str, Any]:
    url = media.get("url")
    if not isinstance(url, str) or not url:
        raise ContentError("rcs: a card's media needs a url")
    return {"height": media.get("height") or DEFAULT_HEIGHT, "contentInfo": {"fileUrl": url}}


def _media_url(media: object) -> str:
    items = _list(media, "media")
    if len(items) != 1:
        raise ContentError(f"rcs: one media file per message, not {len(items)}")
    url = _mapping(items[0], "media[0]").get("url")
    if not isinstance(url, str) or not url:
        raise ContentError("rcs: media[0] needs a url")
    return url


def _mapping(value: object, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ContentError(f"rcs: {where} is not an object")
    return value


def _list(value: object, where: str) -> list[Any]:
    if not isinstance(value, list):
        raise ContentError(f"rcs: {where} is not a list")
    return value
