"""Personalization with Liquid, as Twilio documents it: `{{name | default: 'there'}}`,
`{% if %}`, `{% unless %}`, with each recipient's `variables`.

Templates run sandboxed: Liquid has no attribute access on Python objects, the variables
are plain strings, and output size (in characters), loop iterations and ranges are
bounded. A variable a recipient does not have renders as the empty string (or the
template's `default`). Whatever goes wrong while rendering for one recipient (a limit,
a filter given a value it cannot take) is a `TemplateError` for that recipient alone.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from io import StringIO
from typing import Any

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.exceptions import LiquidError, OutputStreamLimitError, ResourceLimitError

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


class _BoundedOutput(StringIO):
    """Output that stops at `limit` characters. (python-liquid's own limited stream
    counts UTF-8 bytes and, opened with newline=None, turns every CR into LF.)"""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit
        self.size = 0

    def write(self, text: str) -> int:
        self.size += len(text)
        if self.size > self.limit:
            raise OutputStreamLimitError("output stream limit reached", token=None)
        return super().write(text)


class _SandboxedContext(RenderContext):
    def get_buffer(self, buf: Any = None) -> StringIO:
        """A capture's buffer: what is left of the limit once `buf` is counted."""
        used = buf.size if isinstance(buf, _BoundedOutput) else 0
        return _BoundedOutput(MAX_OUTPUT_CHARS - used)


class _SandboxedTemplate(BoundTemplate):
    context_class = _SandboxedContext

    def _get_buffer(self) -> StringIO:
        return _BoundedOutput(MAX_OUTPUT_CHARS)


class _SandboxedLiquid(Environment):
    template_class = _SandboxedTemplate
    output_stream_limit = MAX_OUTPUT_CHARS
    loop_iteration_limit = MAX_LOOP_ITERATIONS
    context_depth_limit = 10
    local_namespace_limit = 10_000


def _bounded_range(self: RangeLiteral, start: Any, stop: Any) -> range:
    """A range literal `(a..b)` of at most MAX_LOOP_ITERATIONS numbers: loops are bounded
    by Liquid, but filters are not (`(1..999999999) | join` would build gigabytes)."""
    numbers = _unbounded_range(self, start, stop)
    if len(numbers) > MAX_LOOP_ITERATIONS:
        raise ResourceLimitError(f"range over {MAX_LOOP_ITERATIONS} numbers", token=None)
    return numbers


# python-liquid has no setting for this; the environment is only ever ours in-process
_unbounded_range = RangeLiteral._make_range
RangeLiteral._make_range = _bounded_range  # type: ignore[method-assign]


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
        if self._compiled is not None:
            _check_names(self._compiled)

    def render(self, variables: dict[str, Any] | None) -> str:
        if self._compiled is None:
            return self.source
        try:
            return self._compiled.render(**(variables or {}))
        except LiquidError as error:
            raise TemplateError(str(error).splitlines()[0]) from None
        except Exception as error:  # a filter given a value it cannot take: 1e400 | round
            raise TemplateError(f"{type(error).__name__}: {error}"[:200]) from None


def _check_names(compiled: BoundTemplate) -> None:
    """Refuse what python-liquid would only find while rendering, for every recipient:
    a misspelt filter, or a partial template (there are none to include)."""
    try:
        analysis = compiled.analyze(include_partials=False)
    except LiquidError as error:
        raise TemplateError(str(error).splitlines()[0]) from None
    unknown = sorted(set(analysis.filters) - set(_environment.filters))
    if unknown:
        raise TemplateError(f"unknown filter {', '.join(unknown)}")
    partials = sorted({"include", "render"} & set(analysis.tags))
    if partials:
        raise TemplateError(f"{' and '.join(partials)} is not supported: there are no partials")


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
