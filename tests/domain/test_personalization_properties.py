"""Liquid personalization: a reference table of the edge cases a user would check, then
properties (hypothesis) of rendering any text with any recipient's variables.

The contract under test is the module's and `docs/decisions.md`'s: a missing variable
renders empty (or as its `default`); a template that does not parse raises
`TemplateError`; one that parses but fails for a recipient (output over 20,000
characters, a filter error) raises `TemplateError`, which fan-out turns into a FAILED
Message (30099). Nothing else may escape `render`: fan-out catches `TemplateError` only.
Values are data, never templates, and are not HTML-escaped (SMS is not HTML; the docs
say nothing about escaping, and the module does not escape).
"""

from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from opencomms.domain.personalization import (
    MAX_LOOP_ITERATIONS,
    MAX_OUTPUT_CHARS,
    TemplateError,
    compile_template,
    is_template,
)

Variables = dict[str, Any] | None


def render(source: str, variables: Variables = None) -> str:
    """As fan-out does it: compile once, render with one recipient's variables."""
    return compile_template(source).render(variables)


def outcome(source: str, variables: Variables = None) -> str | TemplateError:
    """The rendered text or the module's error; any other exception propagates."""
    try:
        return render(source, variables)
    except TemplateError as error:
        return error


class Thing:
    """A Python object with data and a method, which a sandboxed template must not reach."""

    secret = "S3CRET"

    def reveal(self) -> str:
        return self.secret


# --- The reference table --------------------------------------------------------------

GSM_EXTENSION = "^{}\\[~]|\N{EURO SIGN}\f"

PLAIN_TEXT = [
    pytest.param("Hello there", id="plain"),
    pytest.param("", id="empty"),
    pytest.param("a { b } c", id="lone-braces"),
    pytest.param("{ {name} }", id="spaced-double-brace"),
    pytest.param("{name}", id="single-brace-placeholder"),
    pytest.param("close }} and %} alone", id="closing-delimiters-alone"),
    pytest.param("100% sure, 50 % off, %d %s", id="percent-signs"),
    pytest.param("hi \N{WAVING HAND SIGN}\N{EMOJI MODIFIER FITZPATRICK TYPE-4}!", id="emoji"),
    pytest.param(f"ext {GSM_EXTENSION} end", id="gsm-extension-chars"),
    pytest.param("line one\nline two\r\nline three\n", id="newlines"),
    pytest.param("{# not a comment in this Liquid #}", id="hash-brace"),
    pytest.param("<b>Tom & Jerry</b>", id="html-ish"),
]


@pytest.mark.parametrize("text", PLAIN_TEXT)
@pytest.mark.parametrize("variables", [None, {}, {"name": "Ana"}])
def test_text_without_tags_passes_through_unchanged(text: str, variables: Variables) -> None:
    assert not is_template(text)
    assert render(text, variables) == text


RENDERS = [
    # {{name}}: present, missing, null
    pytest.param("{{name}}", {"name": "Ana"}, "Ana", id="var-present"),
    pytest.param("Hi {{ name }}!", {}, "Hi !", id="var-missing-renders-empty"),
    pytest.param("Hi {{ name }}!", None, "Hi !", id="var-no-variables-at-all"),
    pytest.param("Hi {{ name }}!", {"name": None}, "Hi !", id="var-null-renders-empty"),
    pytest.param("Hi {{ name }}!", {"other": "x"}, "Hi !", id="var-other-present"),
    # default
    pytest.param("Hi {{name | default: 'there'}}", {}, "Hi there", id="default-missing"),
    pytest.param("Hi {{name | default: 'there'}}", {"name": ""}, "Hi there", id="default-empty"),
    pytest.param("Hi {{name | default: 'there'}}", {"name": None}, "Hi there", id="default-null"),
    pytest.param("Hi {{name | default: 'there'}}", {"name": "Ana"}, "Hi Ana", id="default-set"),
    pytest.param("Hi {{name | default: 'there'}}", {"name": " "}, "Hi  ", id="default-blank"),
    pytest.param('{{name | default: "x y"}}', {}, "x y", id="default-double-quotes"),
    # if / else / unless
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": "yes"}, "A", id="if-present"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {}, "B", id="if-missing"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": None}, "B", id="if-null"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": False}, "B", id="if-false"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": "false"}, "A", id="if-str-false"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": ""}, "A", id="if-empty-str"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": "0"}, "A", id="if-str-zero"),
    pytest.param("{% if vip %}A{% else %}B{% endif %}", {"vip": 0}, "A", id="if-zero"),
    pytest.param("{% unless vip %}U{% endunless %}", {}, "U", id="unless-missing"),
    pytest.param("{% unless vip %}U{% endunless %}", {"vip": False}, "U", id="unless-false"),
    pytest.param("{% unless vip %}U{% endunless %}", {"vip": "x"}, "", id="unless-present"),
    pytest.param("{% unless vip %}U{% endunless %}", {"vip": "false"}, "", id="unless-str-false"),
    pytest.param("{% unless vip %}U{% endunless %}", {"vip": ""}, "", id="unless-empty-str"),
    pytest.param(
        '{% if plan == "gold" %}G{% elsif plan == "silver" %}S{% else %}-{% endif %}',
        {"plan": "silver"},
        "S",
        id="if-elsif-comparison",
    ),
    pytest.param(
        "{% if name %}Hi {{ name }}{% else %}Hi there{% endif %}",
        {},
        "Hi there",
        id="if-greeting-missing",
    ),
    # whitespace control
    pytest.param("Hi  {{- name -}}  !", {"name": "Ana"}, "HiAna!", id="ws-output"),
    pytest.param("Hi  {{- name -}}  !", {}, "Hi!", id="ws-output-missing"),
    pytest.param("[ {%- if x -%} X {%- endif -%} ]", {"x": "1"}, "[X]", id="ws-tag"),
    pytest.param("a\n{{- name }}\nb", {"name": "N"}, "aN\nb", id="ws-left-only"),
    # filters
    pytest.param("{{ name | upcase }}", {"name": "ana"}, "ANA", id="upcase"),
    pytest.param("{{ name | capitalize }}", {"name": "aNA bob"}, "Ana bob", id="capitalize"),
    pytest.param("{{ name | strip }}", {"name": "  a b \n"}, "a b", id="strip"),
    pytest.param("{{ name | upcase }}", {}, "", id="upcase-missing"),
    pytest.param(
        "{{ name | strip | capitalize | default: 'there' }}",
        {"name": "   "},
        "there",
        id="filter-chain-to-default",
    ),
    # numbers and booleans
    pytest.param("{{ n }}", {"n": 42}, "42", id="int"),
    pytest.param("{{ n }}", {"n": 3.5}, "3.5", id="float"),
    pytest.param("{{ n }}", {"n": -7}, "-7", id="negative-int"),
    pytest.param("{{ n }}", {"n": "007"}, "007", id="numeric-string-kept"),
    pytest.param("{{ n }}", {"n": True}, "true", id="bool-true"),
    pytest.param("{{ n }}", {"n": False}, "false", id="bool-false"),
    pytest.param("{{ n | plus: 1 }}", {"n": "41"}, "42", id="plus-on-numeric-string"),
    # unicode values
    pytest.param("Hi {{ name }}", {"name": "Zoë \N{WAVING HAND SIGN}"}, "Hi Zoë 👋", id="emoji"),
    pytest.param("{{ name | upcase }}", {"name": "Ελένη"}, "ΕΛΈΝΗ", id="greek-upcase"),
    pytest.param("{{ name }}", {"name": "مرحبا"}, "مرحبا", id="arabic"),
    pytest.param("{{ name }}", {"name": GSM_EXTENSION}, GSM_EXTENSION, id="gsm-extension"),
    # values are not HTML-escaped
    pytest.param("{{ v }}", {"v": "<b>Tom & Jerry</b>"}, "<b>Tom & Jerry</b>", id="html-value"),
    pytest.param("<i>{{ v }}</i>", {"v": "&amp;"}, "<i>&amp;</i>", id="html-template-text"),
    # values are data, never re-parsed as templates
    pytest.param(
        "{{ v }}", {"v": "{{ secret }}", "secret": "S"}, "{{ secret }}", id="value-is-not-parsed"
    ),
    pytest.param("{{ v }}", {"v": "{% if %}"}, "{% if %}", id="value-with-broken-tag"),
    # text around tags
    pytest.param(
        "{ {{ name }} } 100% }} %}", {"name": "A"}, "{ A } 100% }} %}", id="text-around-tag"
    ),
    pytest.param("{{ x }} {# c #}", {"x": 1}, "1 {# c #}", id="hash-brace-in-template"),
    pytest.param("a\r\nb {{ x }}", {"x": "X"}, "a\r\nb X", id="crlf-in-template-text"),
    pytest.param("{{ x }}", {"x": "1\r\n2\r3"}, "1\r\n2\r3", id="crlf-in-value"),
    pytest.param("{% raw %}{{ name }}{% endraw %}", {"name": "A"}, "{{ name }}", id="raw"),
    pytest.param("a{% comment %} note {% endcomment %}b", {}, "ab", id="comment"),
]


@pytest.mark.parametrize(("source", "variables", "expected"), RENDERS)
def test_reference_rendering(source: str, variables: Variables, expected: str) -> None:
    assert render(source, variables) == expected


# --- The sandbox ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{{ thing.secret }}",
        "{{ thing.reveal }}",
        "{{ thing.__class__ }}",
        "{{ thing.__dict__ }}",
        "{{ thing['secret'] }}",
        "{{ name.upper }}",
        "{{ name.__class__.__mro__ }}",
        "{{ name.__len__ }}",
    ],
)
def test_attribute_access_on_objects_renders_empty(source: str) -> None:
    assert render(source, {"thing": Thing(), "name": "Ana"}) == ""


def test_size_is_a_liquid_property_not_a_python_attribute() -> None:
    assert render("{{ name.size }}", {"name": "Ana"}) == "3"


def test_a_loop_up_to_the_bound_runs() -> None:
    source = f"{{% for i in (1..{MAX_LOOP_ITERATIONS}) %}}x{{% endfor %}}"
    assert render(source) == "x" * MAX_LOOP_ITERATIONS


@pytest.mark.parametrize(
    "source",
    [
        f"{{% for i in (1..{MAX_LOOP_ITERATIONS + 1}) %}}x{{% endfor %}}",
        "{% for i in (1..1000000000) %}{% endfor %}",
        "{% for i in (1..40) %}{% for j in (1..40) %}{% endfor %}{% endfor %}",
        "{% tablerow i in (1..100000) %}{% endtablerow %}",
    ],
    ids=["bound-plus-one", "huge-range", "nested-loops-count-together", "tablerow"],
)
def test_a_loop_past_the_bound_is_refused(source: str) -> None:
    with pytest.raises(TemplateError):
        render(source)


def test_output_at_the_bound_renders() -> None:
    assert render("{{ v }}{{ v }}", {"v": "x" * (MAX_OUTPUT_CHARS // 2)}) == "x" * MAX_OUTPUT_CHARS


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("{{ v }}", {"v": "x" * (MAX_OUTPUT_CHARS + 1)}),
        ("{{ v }}!", {"v": "x" * MAX_OUTPUT_CHARS}),
        ("{% for i in (1..1000) %}{{ v }}{% endfor %}", {"v": "x" * 21}),
        (
            "{% capture c %}{% for i in (1..1000) %}{{ v }}{% endfor %}{% endcapture %}",
            {"v": "x" * 21},
        ),
        ("{{ 'a' | append: v }}", {"v": "x" * MAX_OUTPUT_CHARS}),
    ],
    ids=["one-value", "value-plus-text", "loop", "capture", "filter"],
)
def test_output_over_the_bound_is_refused(source: str, variables: Variables) -> None:
    with pytest.raises(TemplateError, match="output stream limit"):
        render(source, variables)


def test_the_bound_counts_characters_as_documented() -> None:
    """docs/decisions.md: "output over 20,000 characters" fails. 10,001 'é' are 10,001
    characters (20,002 UTF-8 bytes), well within the bound."""
    value = "\N{LATIN SMALL LETTER E WITH ACUTE}" * (MAX_OUTPUT_CHARS // 2 + 1)
    assert render("{{ v }}", {"v": value}) == value


def test_a_filter_over_a_range_past_the_loop_bound_is_refused() -> None:
    """The sandbox bounds the work of a render, not only the `for` tag: `join` walks a
    range 100 times the loop bound and builds a string 24 times the output bound."""
    with pytest.raises(TemplateError):
        render("{{ (1..100000) | join | size }}")


# --- Templates that do not parse, and templates that fail for one recipient -------------


@pytest.mark.parametrize(
    "source",
    [
        "Hi {{ name",
        "Hi {{ name }",
        "{{ }}",
        "{{}}",
        "{%%}",
        "{% if %}x{% endif %}",
        "{% if vip %}never closed",
        "{% unless vip %}never closed",
        "{% endif %}",
        "{% if vip %}x{% endfor %}",
        "{% frobnicate %}",
        "{% for %}{% endfor %}",
        "{{ name | default: 'unterminated }}",
        "{{ x }} }} %} {% raw %}",
    ],
)
def test_a_template_that_does_not_parse_raises_template_error(source: str) -> None:
    with pytest.raises(TemplateError) as raised:
        compile_template(source)
    message = str(raised.value)
    assert message
    assert "\n" not in message


def test_an_unknown_filter_is_refused_when_the_template_is_compiled() -> None:
    with pytest.raises(TemplateError, match="upcsae"):  # so the send is a 400, not FAILED
        compile_template("{{ name | upcsae }}")


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("{{ n | divided_by: 0 }}", {"n": "5"}),
        ("{{ n | modulo: 0 }}", {"n": "5"}),
        ("{{ n | plus: 1 }}", {"n": "9" * 5000}),
        ("{{ amount | round }}", {"amount": "1e400"}),
        ("{{ amount | ceil }}", {"amount": "nan"}),
        ("{{ amount | floor }}", {"amount": "-inf"}),
        ("{{ day | date: '%Y' }}", {"day": "99999999999999999999"}),
        ("{{ day | date: '%Y' }}", {"day": "1000000000000"}),
        ("{{ token | base64_decode }}", {"token": "//79"}),
        ("{{ n | times: n | times: n | times: n | times: n }}", {"n": "9" * 900}),
    ],
    ids=[
        "divide-by-zero",
        "modulo-zero",
        "huge-integer",
        "round-overflow",
        "ceil-nan",
        "floor-infinity",
        "date-overflow",
        "date-year-out-of-range",
        "base64-not-utf8",
        "product-too-long-to-print",
    ],
)
def test_a_filter_error_for_one_recipient_is_a_template_error(
    source: str, variables: Variables
) -> None:
    """Fan-out turns a TemplateError into a FAILED Message (30099); any other exception
    escapes it and fails the whole fan-out job, which is then retried for ever."""
    template = compile_template(source)
    with pytest.raises(TemplateError):
        template.render(variables)


# --- Properties -------------------------------------------------------------------------

PROPERTY = settings(max_examples=150, derandomize=True, deadline=None, database=None)
# each example of the output-bound property renders up to 1,200 loop iterations
PROPERTY_FEW = settings(PROPERTY, max_examples=50)

NAMES = st.from_regex(r"[a-z][a-z0-9_]{0,7}", fullmatch=True)
# Any character JSON can carry to the API (msgspec refuses lone surrogates), with those
# that mean something to Liquid drawn often.
CHARACTERS = st.characters(codec="utf-8")
SPECIAL = st.sampled_from(list("{}%#-|:'\"\\ \r\n.[]()="))
TEXT = st.text(alphabet=st.one_of(SPECIAL, CHARACTERS), max_size=60)
SCALARS = st.one_of(st.none(), st.booleans(), st.integers(), TEXT)
VARIABLES = st.dictionaries(NAMES, SCALARS, max_size=4)


def no_tags(text: str) -> bool:
    return "{{" not in text and "{%" not in text and "{#" not in text


@PROPERTY
@given(text=TEXT.filter(no_tags), variables=VARIABLES)
def test_text_without_tags_renders_to_itself(text: str, variables: dict[str, Any]) -> None:
    assert render(text, variables) == text


@PROPERTY
@given(
    before=TEXT.filter(lambda t: no_tags(t) and not t.endswith("{")),
    after=TEXT.filter(no_tags),
    value=TEXT,
)
def test_text_around_a_tag_is_kept_as_written(before: str, after: str, value: str) -> None:
    assert render(before + "{{ v }}" + after, {"v": value}) == before + value + after


LIQUID_LOOKING = st.sampled_from(
    ["{{ v }}", "{{x}}", "{% if x %}y{% endif %}", "{% raw %}", "{{", "%}", "{#", "{%- -%}"]
)


@PROPERTY
@given(value=st.one_of(LIQUID_LOOKING, TEXT, st.text(CHARACTERS, max_size=200)))
def test_a_value_is_output_as_data_never_as_a_template(value: str) -> None:
    assert render("{{ v }}", {"v": value, "x": "X"}) == value


# a literal the `default` filter can take in single quotes: no quote, backslash or brace
SAFE_LITERAL = st.text(
    alphabet=st.characters(codec="utf-8", exclude_characters="'\\{}"), max_size=30
)


@PROPERTY
@given(default=SAFE_LITERAL, value=TEXT.filter(bool))
def test_default_replaces_only_a_missing_or_empty_value(default: str, value: str) -> None:
    source = f"{{{{ v | default: '{default}' }}}}"
    assert render(source, {}) == default
    assert render(source, {"v": ""}) == default
    assert render(source, {"v": None}) == default
    assert render(source, {"v": value}) == value


# tokens of Liquid drawn often, so that most templates are nearly valid Liquid
TOKENS = st.sampled_from(
    [
        "{{", "}}", "{%", "%}", "{{-", "-}}", "{%-", "-%}", " ", "|", ":", ",", "'", '"',
        "name", "v", "x", "default", "upcase", "strip", "size", "if ", "else", "endif",
        "unless ", "endunless", "for ", " in ", "(1..3)", "endfor", "raw", "endraw",
        "==", "and", "or", "nil", "true", "false", ".", "[0]", "0", "1",
    ]
)  # fmt: skip
TEMPLATES = st.lists(st.one_of(TOKENS, CHARACTERS), max_size=25).map("".join)


@PROPERTY
@given(source=st.one_of(TEMPLATES, TEXT), variables=VARIABLES)
def test_any_text_renders_deterministically_or_raises_template_error(
    source: str, variables: dict[str, Any]
) -> None:
    first = outcome(source, variables)
    second = outcome(source, variables)
    if isinstance(first, TemplateError):
        assert isinstance(second, TemplateError)
        assert str(first) == str(second)
    else:
        assert first == second


FILTERS = st.sampled_from(
    [
        "abs", "ceil", "floor", "round", "round: 2", "plus: 1", "minus: 1", "times: 2",
        "divided_by: 2", "modulo: 2", "at_least: 0", "at_most: 0", "date: '%Y-%m-%d'",
        "base64_decode", "base64_url_safe_decode", "url_decode", "url_encode",
        "truncate: 3", "truncatewords: 1", "slice: 1", "split: ','", "size", "upcase",
        "capitalize", "escape", "strip_html", "newline_to_br", "first", "last", "join",
        "sort", "uniq", "reverse", "default: 'd'",
    ]
)  # fmt: skip
AWKWARD = st.one_of(
    st.sampled_from(
        [
            "", "0", "-0", "1", "-1", "1.5", "1e400", "-1e400", "inf", "-inf", "nan",
            "9" * 30, "9" * 5000, "99999999999999999999", "1000000000000", "-99999999999",
            "2024-02-30", "//79", "gA==", "%ff%fe", "a,b", "<b>x</b>",
        ]
    ),
    TEXT,
)  # fmt: skip


@PROPERTY
@given(first=FILTERS, then=st.one_of(st.none(), FILTERS), value=AWKWARD)
def test_any_filter_on_any_value_renders_or_raises_template_error(
    first: str, then: str | None, value: str
) -> None:
    """A recipient's variables reach the filters; whatever a filter makes of them, render
    returns text or raises TemplateError (`outcome` lets anything else through)."""
    chain = first if then is None else f"{first} | {then}"
    result = outcome(f"{{{{ v | {chain} }}}}", {"v": value})
    assert isinstance(result, str | TemplateError)


@PROPERTY
@given(value=st.one_of(SCALARS, st.floats(allow_nan=False)), present=st.booleans())
def test_only_nil_and_false_are_falsy(value: Any, present: bool) -> None:
    """Liquid's rule, not Python's: "", 0, "false" and 0.0 are truthy."""
    variables = {"v": value} if present else {}
    truthy = present and value is not None and value is not False
    expected = "A" if truthy else "B"
    assert render("{% if v %}A{% else %}B{% endif %}", variables) == expected
    assert render("{% unless v %}B{% else %}A{% endunless %}", variables) == expected


@PROPERTY_FEW
@given(
    value=st.text(CHARACTERS, max_size=40),
    times=st.integers(min_value=0, max_value=MAX_LOOP_ITERATIONS + 200),
)
def test_output_never_exceeds_the_bound_and_is_whole_within_it(value: str, times: int) -> None:
    """The output is either the whole text, if within the loop bound and the 20,000
    characters docs/decisions.md promises, or a TemplateError; never a longer text."""
    expected = value * times
    result = outcome(f"{{% for i in (1..{times}) %}}{{{{ v }}}}{{% endfor %}}", {"v": value})
    if isinstance(result, str):
        assert len(result) <= MAX_OUTPUT_CHARS
        assert result == expected
    if times <= MAX_LOOP_ITERATIONS and len(expected) <= MAX_OUTPUT_CHARS:
        assert result == expected
