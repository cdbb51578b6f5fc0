"""Content templates (Twilio's Content API) made into a send's channel modules: each
channel takes the richest type it can show, and Twilio's placeholders become Liquid.

A template's strings hold Twilio's placeholders, `{{1}}` or `{{first_name}}`; everything
else in them is literal text (not Liquid). Each string becomes a Liquid template that
prints every literal character as it is and each placeholder as the recipient's variable
of that name, or, when the recipient has none, the default (the send's `content.variables`,
else the template's `variables`), or nothing when there is no default either. The modules
are made once, when the send is accepted; fan-out renders them per recipient as it renders
any module (engine/fanout.py), and connectors never see a template (docs/channel-content.md).

Each channel takes the richest type it can show. rcs: `twilio/card` (a card; actions past
the fourth as chips under it), else `twilio/media`, else `twilio/text`. whatsapp:
`whatsapp/template` (its body parameters: the template's variables in order), else
`twilio/media`, `twilio/text`, `twilio/card` (as text and media). sms and email:
`twilio/media`, else `twilio/text`, else `twilio/card` (as text and media).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "CARD_SUGGESTIONS",
    "PLACEHOLDER",
    "VARIABLE_KEY",
    "channel_modules",
    "fallback_text",
    "ordered_keys",
    "placeholder_keys",
    "to_liquid",
]

# Twilio's variable names: letters, digits (and `_`), no spaces, at most 16 characters
VARIABLE_KEY = re.compile(r"[A-Za-z0-9_]{1,16}\Z")
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]{1,16})\s*\}\}")
# a `{` that Liquid would take as the start of a tag (or that a placeholder follows)
_OPENER = re.compile(r"\{(?=[{%]|\Z)")
_LITERAL_BRACE = '{{ "{" }}'
CARD_SUGGESTIONS = 4  # on an RCS card; the rest become chips under it (as Twilio does)

Module = dict[str, Any]
Render = Callable[[str], str]


def placeholder_keys(text: str) -> list[str]:
    """The variable names `text` uses, in order of first use."""
    return list(dict.fromkeys(PLACEHOLDER.findall(text)))


def _literal(text: str) -> str:
    """Liquid that prints `text` as it is: a `{` that would open a tag is printed by one."""
    return _OPENER.sub(_LITERAL_BRACE, text)


def to_liquid(text: str, defaults: Mapping[str, str]) -> str:
    """`text` with Twilio's placeholders as Liquid: the recipient's variable, else the
    default of that name, else nothing. Text without placeholders or braces is unchanged."""
    parts: list[str] = []
    last = 0
    for match in PLACEHOLDER.finditer(text):
        parts.append(_literal(text[last : match.start()]))
        key = match.group(1)  # letters, digits and `_`: safe inside the quotes
        value = f'{{{{ ["{key}"] }}}}'
        if key in defaults:
            default = _literal(defaults[key])
            value = f'{{% if ["{key}"] == nil %}}{default}{{% else %}}{value}{{% endif %}}'
        parts.append(value)
        last = match.end()
    parts.append(_literal(text[last:]))
    return "".join(parts)


def ordered_keys(keys: Sequence[str]) -> list[str]:
    """Variable names in the order of a WhatsApp template's parameters: numbers in
    numeric order, then names in the order given."""
    numbers = sorted((key for key in keys if key.isdigit()), key=int)
    return numbers + [key for key in keys if not key.isdigit()]


def _card_text(card: Mapping[str, Any]) -> str:
    return "\n".join(card[name] for name in ("title", "body", "subtitle") if card.get(name))


def fallback_text(types: Mapping[str, Any]) -> str | None:
    """The template's text, where it has one: a Message shows it as its `text`."""
    for name, field in (("twilio/text", "body"), ("twilio/media", "body")):
        if types.get(name) and types[name].get(field):
            return str(types[name][field])
    card = types.get("twilio/card")
    return (_card_text(card) or None) if card else None


def _suggestion(action: Mapping[str, Any], render: Render) -> Module:
    """A card action as an RBM suggestion (docs/channel-content.md)."""
    text = render(action["title"])
    postback = render(action.get("id") or action["title"])
    kind = action["type"]
    if kind == "QUICK_REPLY":
        return {"reply": {"text": text, "postbackData": postback}}
    suggestion: Module = {"text": text, "postbackData": postback}
    if kind == "URL":
        suggestion["openUrl"] = {"url": render(action["url"])}
    else:  # PHONE_NUMBER
        suggestion["dial"] = {"phoneNumber": render(action["phone"])}
    return {"action": suggestion}


def _rcs_card(card: Mapping[str, Any], render: Render) -> Module:
    """`twilio/card` as an RCS card: `subtitle` goes under `body` in the description
    (RCS cards have no subtitle); media: the first URL."""
    inner: Module = {}
    if card.get("title"):
        inner["title"] = render(card["title"])
    description = "\n".join(card[name] for name in ("body", "subtitle") if card.get(name))
    if description:
        inner["description"] = render(description)
    if card.get("media"):
        inner["media"] = {"url": render(card["media"][0])}
    suggestions = [_suggestion(action, render) for action in card.get("actions") or []]
    if suggestions[:CARD_SUGGESTIONS]:
        inner["suggestions"] = suggestions[:CARD_SUGGESTIONS]
    module: Module = {"card": inner}
    if suggestions[CARD_SUGGESTIONS:]:
        module["suggestions"] = suggestions[CARD_SUGGESTIONS:]
    return module


def _text_and_media(text: str, media: Sequence[str], render: Render) -> Module:
    module: Module = {"text": render(text)} if text else {}
    if media:
        module["media"] = [{"url": render(url)} for url in media]
    return module


def _whatsapp_template(
    template: Mapping[str, Any], language: str, keys: Sequence[str], render: Render
) -> Module:
    """`whatsapp/template` as a Cloud API template: its body parameters are the
    template's variables in order (named ones with their `parameter_name`)."""
    code = str(template.get("language") or language).replace("-", "_")
    module: Module = {"name": template["name"], "language": code}
    parameters = []
    for key in ordered_keys(keys):
        parameter = {"type": "text", "text": render(f"{{{{{key}}}}}")}
        if not key.isdigit():
            parameter["parameter_name"] = key
        parameters.append(parameter)
    if parameters:
        module["components"] = [{"type": "body", "parameters": parameters}]
    return {"template": module}


def _generic(types: Mapping[str, Any], render: Render, *, one_media: bool) -> Module | None:
    """What a channel without a rich form of its own gets: media, text, or a card as
    text and media (the first media only where the channel shows one)."""
    media, text, card = (
        types.get("twilio/media"),
        types.get("twilio/text"),
        types.get("twilio/card"),
    )
    if media:
        urls = media["media"][:1] if one_media else media["media"]
        return _text_and_media(media.get("body") or "", urls, render)
    if text:
        return {"text": render(text["body"])}
    if card:
        return _text_and_media(_card_text(card), (card.get("media") or [])[:1], render)
    return None


def channel_modules(
    types: Mapping[str, Any],
    language: str,
    keys: Sequence[str],
    defaults: Mapping[str, str],
) -> dict[str, Module]:
    """The module of each channel the template's `types` can reach, with its strings as
    Liquid. `keys`: the template's variables (a WhatsApp template's parameters);
    `defaults`: each variable's value where a recipient has none."""

    def render(text: str) -> str:
        return to_liquid(text, defaults)

    modules: dict[str, Module] = {}
    card, whatsapp = types.get("twilio/card"), types.get("whatsapp/template")
    rcs = _rcs_card(card, render) if card else _generic(types, render, one_media=True)
    if whatsapp:
        modules["whatsapp"] = _whatsapp_template(whatsapp, language, keys, render)
    for channel, module in (
        ("rcs", rcs),
        ("whatsapp", _generic(types, render, one_media=True)),
        ("sms", _generic(types, render, one_media=False)),
        ("email", _generic(types, render, one_media=False)),
    ):
        if module is not None:
            modules.setdefault(channel, module)
    return modules
