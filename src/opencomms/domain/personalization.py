"""Personalization with Liquid, as Twilio documents it: `{{name | default: 'there'}}`,
`{% if %}`, `{% unless %}`, with each recipient's `variables`.

Templates run sandboxed: Liquid has no attribute access on Python objects, the variables
are plain strings, and output size and loop iterations are bounded. A variable a
recipient does not have renders as the empty string (or the template's `default`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError

__all__ = [
    "Template",
    "TemplateError",
    "compile_template",
    "is_template",
    "map_strings",
    "strings_in",
]

MAX_OUTPUT_CHARS = 20_000
MAX_LOOP_ITERATIONS = 1_000


class _SandboxedLiquid(Environment):
    output_stream_limit = MAX_OUTPUT_CHARS
    loop_iteration_limit = MAX_LOOP_ITERATIONS
    context_depth_limit = 10
    local_namespace_limit = 10_000


_environment = _SandboxedLiquid()


class TemplateError(ValueError):
    """A template that does not parse, or that broke a limit while rendering."""


class Template:
    """A compiled template; `render` with one recipient's variables."""

    def __init__(self, source: str) -> None:
        self.source = source
        self._literal = not is_template(source)
        try:
            self._compiled = None if self._literal else _environment.from_string(source)
        except LiquidError as error:
            raise TemplateError(str(error).splitlines()[0]) from None

    def render(self, variables: dict[str, Any] | None) -> str:
        if self._compiled is None:
            return self.source
        try:
            return self._compiled.render(**(variables or {}))
        except LiquidError as error:
            raise TemplateError(str(error).splitlines()[0]) from None


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def compile_template(source: str) -> Template:
    return Template(source)


def strings_in(value: Any, path: str = "") -> Iterator[tuple[str, str]]:
    """Every string inside nested objects and arrays (a channel module, a rich card),
    with its path: `richCard.standaloneCard.cardContent.suggestions[0].reply.text`."""
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield from strings_in(item, f"{path}.{key}" if path else str(key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from strings_in(item, f"{path}[{index}]")


def map_strings(value: Any, render: Callable[[str, str], str], path: str = "") -> Any:
    """A copy of `value` with every string replaced by `render(path, string)`."""
    if isinstance(value, str):
        return render(path, value)
    if isinstance(value, dict):
        return {
            key: map_strings(item, render, f"{path}.{key}" if path else str(key))
            for key, item in value.items()
        }
    if isinstance(value, list):
        return [map_strings(item, render, f"{path}[{index}]") for index, item in enumerate(value)]
    return value
