"""Personalization with Liquid, as Twilio documents it: `{{name | default: 'there'}}`,
`{% if %}`, `{% unless %}`, with each recipient's `variables`.

Templates run sandboxed: Liquid has no attribute access on Python objects, the variables
are plain strings, and output size and loop iterations are bounded. A variable a
recipient does not have renders as the empty string (or the template's `default`).
"""

from __future__ import annotations

from typing import Any

from liquid import Environment
from liquid.exceptions import LiquidError

__all__ = ["Template", "TemplateError", "compile_template", "is_template"]

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
