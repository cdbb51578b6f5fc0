"""Twilio's placeholders as Liquid (domain/content_templates.py): whatever the text around
them, it prints as written, and each placeholder prints the recipient's value, else the
default, else nothing. Properties over any text (hypothesis), then the module shapes."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from opencomms.domain.content_templates import channel_modules, ordered_keys, to_liquid
from opencomms.domain.personalization import compile_template

# text rich in what Liquid and the placeholders are made of
TEXT = st.text(alphabet=st.sampled_from(list("{}%-| 12ab_\"'\n")), max_size=40)
KEYS = st.sampled_from(["1", "2", "a_b"])
PLACEHOLDER = re.compile(r"\{\{\s*([A-Za-z0-9_]{1,16})\s*\}\}")


def render(text: str, defaults: dict[str, str], variables: dict[str, str]) -> str:
    return compile_template(to_liquid(text, defaults)).render(variables)


def expected(text: str, defaults: dict[str, str], variables: dict[str, str]) -> str:
    """A direct substitution, the reference the Liquid must agree with."""
    return PLACEHOLDER.sub(lambda m: variables.get(m.group(1), defaults.get(m.group(1), "")), text)


@settings(max_examples=400, deadline=None)
@given(
    text=TEXT,
    defaults=st.dictionaries(KEYS, TEXT, max_size=3),
    variables=st.dictionaries(KEYS, TEXT, max_size=3),
)
def test_liquid_of_any_text_renders_as_a_direct_substitution(
    text: str, defaults: dict[str, str], variables: dict[str, str]
) -> None:
    assert render(text, defaults, variables) == expected(text, defaults, variables)


@settings(max_examples=200, deadline=None)
@given(parts=st.lists(st.one_of(TEXT, KEYS.map(lambda k: "{{" + k + "}}")), max_size=6))
def test_placeholders_next_to_braces_still_render(parts: list[str]) -> None:
    text = "".join(parts)
    variables = {"1": "<one>", "a_b": "{{1}}"}  # a value is data, never a template

    assert render(text, {"2": "%}{%"}, variables) == expected(text, {"2": "%}{%"}, variables)


def test_text_without_placeholders_or_braces_is_unchanged() -> None:
    assert to_liquid("Hello there, 100% sure", {"1": "x"}) == "Hello there, 100% sure"


def test_whatsapp_parameters_are_numbers_in_order_then_names() -> None:
    assert ordered_keys(["10", "name", "2", "1", "city"]) == ["1", "2", "10", "name", "city"]
    modules = channel_modules({"whatsapp/template": {"name": "t"}}, "en-GB", ["2", "1", "city"], {})

    template = modules["whatsapp"]["template"]
    assert (template["name"], template["language"]) == ("t", "en_GB")
    parameters = template["components"][0]["parameters"]
    assert [p.get("parameter_name") for p in parameters] == [None, None, "city"]
    rendered = [compile_template(p["text"]).render({"1": "a", "2": "b"}) for p in parameters]
    assert rendered == ["a", "b", ""]
    assert set(modules) == {"whatsapp"}


def test_a_card_past_four_actions_puts_the_rest_under_it_as_chips() -> None:
    actions = [{"type": "QUICK_REPLY", "title": f"r{i}"} for i in range(6)]
    card = {"title": "T", "subtitle": "S", "actions": actions}

    modules = channel_modules({"twilio/card": card}, "en", [], {})

    rcs = modules["rcs"]
    assert [s["reply"]["text"] for s in rcs["card"]["suggestions"]] == ["r0", "r1", "r2", "r3"]
    assert [s["reply"]["text"] for s in rcs["suggestions"]] == ["r4", "r5"]
    assert rcs["card"]["description"] == "S"
    assert modules["sms"] == modules["whatsapp"] == modules["email"] == {"text": "T\nS"}
