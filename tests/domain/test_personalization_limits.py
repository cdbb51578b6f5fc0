"""The bounds of a render (issue 10, point 3): every way found to grow time or memory
without limit, each stopped by a bound with a reason, and the bounds that are certain
to be broken refused when the template is compiled (a 400 at accept).

Each case here ran for seconds or built hundreds of megabytes before (one chain of
`replace` took the process past a gigabyte); time and memory themselves are bounded by
the renderer process (tests/engine/test_rendering.py).
"""

from __future__ import annotations

from typing import Any

import pytest

from opencomms.domain.personalization import (
    MAX_LOOP_ITERATIONS,
    MAX_VALUE_CHARS,
    TemplateError,
    TemplateLimits,
    compile_template,
)

X = "x" * 3_000


def render(source: str, variables: dict[str, Any] | None = None, **limits: int) -> str:
    return compile_template(source, TemplateLimits(**limits)).render(variables)


def refusal(source: str, **limits: int) -> str:
    """Why `source` is refused when it is compiled."""
    with pytest.raises(TemplateError) as raised:
        compile_template(source, TemplateLimits(**limits))
    return str(raised.value)


def failure(source: str, variables: dict[str, Any] | None = None, **limits: int) -> str:
    """Why rendering `source` for these variables fails (it must compile)."""
    template = compile_template(source, TemplateLimits(**limits))
    with pytest.raises(TemplateError) as raised:
        template.render(variables)
    return str(raised.value)


# --- every intermediate value is bounded --------------------------------------------------

DOUBLE = '{% assign a = "xxxxxxxxxx" %}'
GROWING_VALUES = [
    pytest.param(DOUBLE + "{% assign a = a | append: a %}" * 40, {}, id="append-doubling"),
    pytest.param(DOUBLE + "{% assign a = a | prepend: a %}" * 40, {}, id="prepend-doubling"),
    pytest.param(
        DOUBLE + '{% assign a = a | replace: "x", "xxxxxxxxxx" %}' * 12, {}, id="replace-growth"
    ),
    pytest.param(
        f'{{{{ "{X}" | replace: "x", "{X}" | size }}}}', {}, id="replace-literals-multiply"
    ),
    pytest.param('{{ v | replace: "x", v | size }}', {"v": "x" * 50_000}, id="replace-variable"),
    pytest.param(
        "{{ v" + " | append: v" * 400 + " | size }}", {"v": "x" * 1_000}, id="append-chain"
    ),
    pytest.param(
        f"{{{{ (1..1000) | join: '{X}' | size }}}}", {}, id="join-range-with-long-separator"
    ),
    pytest.param(
        '{% assign a = "x,x,x,x,x,x,x,x,x,x" %}'
        + '{% assign b = a | split: "," %}{% assign a = b | join: a %}' * 8,
        {},
        id="split-join-growth",
    ),
    pytest.param(
        "{% assign n = 99999 %}" + "{% assign n = n | times: n %}" * 30 + "{{ n | size }}",
        {},
        id="times-squaring",
    ),
    pytest.param('{{ v | split: "" | size }}', {"v": "x" * 200_000}, id="split-huge-variable"),
    pytest.param(
        "{{ v | url_encode | url_encode | url_encode | size }}",
        {"v": "\N{GRINNING FACE}" * 10_000},
        id="url-encode-expansion",
    ),
    pytest.param(
        "{% for i in (1..1000) %}{% assign a = a | append: v %}{% endfor %}",
        {"v": "x" * 1_000},
        id="append-in-a-loop",
    ),
]


@pytest.mark.parametrize(("source", "variables"), GROWING_VALUES)
def test_a_value_growing_past_the_bound_fails_the_render(
    source: str, variables: dict[str, Any]
) -> None:
    assert f"a value over {MAX_VALUE_CHARS} characters" in failure(source, variables)


def test_a_value_up_to_the_bound_is_made() -> None:
    source = "{% assign a = v | append: v %}{{ a | size }}"
    assert render(source, {"v": "x" * (MAX_VALUE_CHARS // 2)}) == str(MAX_VALUE_CHARS)


def test_a_result_too_large_is_refused_before_it_is_built() -> None:
    """`replace` would make 10^10 characters here: measured first, never built."""
    source = '{{ v | replace: "x", v | size }}'
    assert "replace: a value over" in failure(source, {"v": "x" * 100_000})


def test_the_value_bound_is_a_setting() -> None:
    source = "{{ v | append: v | size }}"
    assert render(source, {"v": "x" * 600}) == "1200"
    assert "a value over 1000 characters" in failure(source, {"v": "x" * 600}, value_chars=1000)


def test_capture_blocks_are_bounded_by_the_output_bound() -> None:
    source = "{% capture c %}{% for i in (1..1000) %}{{ v }}{% endfor %}{% endcapture %}"
    assert "output stream limit" in failure(source, {"v": "x" * 25}, output_chars=20_000)


# --- loop iterations are bounded for the whole render, not per loop ------------------------

SIBLINGS = "{% for i in items %}{% endfor %}"


def test_sibling_loops_count_together() -> None:
    items = {"items": [str(n) for n in range(600)]}
    assert render(SIBLINGS, items) == ""  # one loop of 600 is within 1,000
    assert "loop iteration limit" in failure(SIBLINGS * 2, items)  # two of them are not


def test_nested_loops_count_every_iteration() -> None:
    source = "{% for i in items %}{% for j in items %}{% endfor %}{% endfor %}"
    assert render(source, {"items": [str(n) for n in range(31)]}) == ""  # 31 + 961
    assert "loop iteration limit" in failure(source, {"items": [str(n) for n in range(32)]})


def test_cycle_increment_and_tablerow_are_bounded_by_the_loops_around_them() -> None:
    body = "{% cycle 'a', 'b' %}{% increment c %}"
    source = "{% for i in items %}" + body + "{% endfor %}"
    assert "loop iteration limit" in failure(source * 2, {"items": [str(n) for n in range(600)]})
    tablerow = "{% tablerow i in items %}{{ i }}{% endtablerow %}"
    assert "loop iteration limit" in failure(tablerow * 2, {"items": list("x" * 600)})


def test_the_loop_bound_is_a_setting() -> None:
    source = "{% for i in items %}x{% endfor %}"
    items = {"items": ["a"] * 50}
    assert render(source, items) == "x" * 50
    assert "loop iteration limit reached (40" in failure(source, items, loop_iterations=40)


# --- what is certain to break a bound is refused when compiled (at accept) ----------------

STATIC_REFUSALS = [
    pytest.param("{% for i in (1..1000000000) %}{% endfor %}", "1000000000 numbers", id="huge"),
    pytest.param(
        f"{{% for i in (1..{MAX_LOOP_ITERATIONS + 1}) %}}x{{% endfor %}}",
        "1001 numbers",
        id="bound-plus-one",
    ),
    pytest.param("{{ (1..5000) | join }}", "5000 numbers", id="range-as-a-value"),
    pytest.param(
        "{% if vip %}{{ (1..5000) | join }}{% endif %}", "5000 numbers", id="range-in-a-branch"
    ),
    pytest.param(
        "{% for i in (1..40) %}{% for j in (1..40) %}{% endfor %}{% endfor %}",
        "1640 iterations",
        id="nested-product",
    ),
    pytest.param(
        "{% for i in (1..600) %}{% endfor %}{% for i in (1..600) %}{% endfor %}",
        "1200 iterations",
        id="siblings-sum",
    ),
    pytest.param(
        "{% capture c %}{% for i in (1..10) %}{% for j in (1..100) %}{% endfor %}"
        "{% endfor %}{% endcapture %}",
        "1010 iterations",
        id="inside-a-capture",
    ),
    pytest.param(
        "{% liquid\nfor i in (1..700)\nendfor\nfor i in (1..700)\nendfor %}",
        "1400 iterations",
        id="liquid-tag",
    ),
    pytest.param(
        "{% for i in (1..5000) limit: 900 %}{% endfor %}", "5000 numbers", id="range-limited"
    ),
]


@pytest.mark.parametrize(("source", "reason"), STATIC_REFUSALS)
def test_a_template_certain_to_break_the_loop_bound_does_not_compile(
    source: str, reason: str
) -> None:
    assert reason in refusal(source)


@pytest.mark.parametrize(
    "source",
    [
        "{% for i in (1..1000) %}x{% endfor %}",
        "{% for i in (1..30) %}{% for j in (1..31) %}{% endfor %}{% endfor %}",  # 30 + 930
        "{% for i in (1..900) offset: 500 %}{% endfor %}{% for i in (1..600) %}{% endfor %}",
        "{% for i in (1..900) limit: 100 %}{% endfor %}{% for i in (1..900) %}{% endfor %}",
        # a loop in a branch may not run: bounded while rendering, not refused
        "{% for i in (1..900) %}{% endfor %}{% if vip %}{% for i in (1..900) %}{% endfor %}"
        "{% endif %}",
        # a loop over a variable: bounded while rendering, recipient by recipient
        "{% for i in (1..900) %}{% for w in words %}{% endfor %}{% endfor %}",
    ],
)
def test_a_template_that_can_finish_compiles(source: str) -> None:
    compile_template(source)


def test_the_static_refusal_follows_the_setting() -> None:
    source = "{% for i in (1..300) %}{% endfor %}"
    compile_template(source)
    assert "300 numbers, over the limit of 200" in refusal(source, loop_iterations=200)


# --- partials, nesting and recursion ---------------------------------------------------------


@pytest.mark.parametrize(
    "source",
    [
        "{% include 'self' %}",
        "{% render 'self' %}",
        "{% if a %}" * 40 + "{% endif %}" * 40,
        "{% for i in (1..2) %}" * 40 + "{% endfor %}" * 40,
        "{% if " + "(" * 2_000 + "true" + ")" * 2_000 + " %}x{% endif %}",
        "{{ a" + "[a" * 2_000 + "]" * 2_000 + " }}",
    ],
    ids=["include", "render", "nested-if", "nested-for", "nested-parentheses", "nested-brackets"],
)
def test_recursion_and_deep_nesting_are_refused_when_compiled(source: str) -> None:
    refusal(source)
