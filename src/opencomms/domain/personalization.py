"""Personalization with Liquid, as Twilio documents it: `{{name | default: 'there'}}`,
`{% if %}`, `{% unless %}`, with each recipient's `variables`.

Templates run sandboxed: Liquid has no attribute access on Python objects, the variables
are plain strings, and every render is bounded (`TemplateLimits`, from `[templates]`):
the loop iterations of all loops together, the size of every value a filter makes
(domain/template_values.py), the output (in characters; a `capture` counts against it),
and ranges. A template that must break a bound whatever the variables is refused when it
is compiled (domain/template_bounds.py). A variable a recipient does not have renders as
the empty string (or the template's `default`). Whatever goes wrong while rendering for
one recipient (a limit, a filter given a value it cannot take) is a `TemplateError` for
that recipient alone. Time and memory are bounded by the process that renders
(engine/rendering.py).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from functools import cache, partial
from io import StringIO
from typing import Any

from liquid import BoundTemplate, Environment, RenderContext
from liquid.builtin.expressions.primitive import RangeLiteral
from liquid.exceptions import (
    LiquidError,
    LoopIterationLimitError,
    OutputStreamLimitError,
    ResourceLimitError,
)
from liquid.token import Token

from opencomms.domain.template_bounds import bounds_problem
from opencomms.domain.template_values import guarded

__all__ = [
    "DEFAULT_LIMITS",
    "Template",
    "TemplateError",
    "TemplateLimits",
    "compile_template",
    "is_template",
    "map_strings",
    "strings_in",
]

MAX_OUTPUT_CHARS = 20_000
MAX_LOOP_ITERATIONS = 1_000
MAX_VALUE_CHARS = 100_000
# python-liquid's bound on all assigned values together, in sys.getsizeof bytes: room
# for a few values at the value bound, whatever their characters' width
NAMESPACE_BYTES_PER_VALUE_CHAR = 8


@dataclass(frozen=True)
class TemplateLimits:
    """The bounds of one render (`[templates]` in the configuration)."""

    loop_iterations: int = MAX_LOOP_ITERATIONS  # every loop of the render together
    value_chars: int = MAX_VALUE_CHARS  # any value a filter takes or makes
    output_chars: int = MAX_OUTPUT_CHARS  # the rendered text, and each capture


DEFAULT_LIMITS = TemplateLimits()


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
    env: _SandboxedLiquid

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.iterations = 0

    def get_buffer(self, buf: Any = None) -> StringIO:
        """A capture's buffer: what is left of the limit once `buf` is counted."""
        used = buf.size if isinstance(buf, _BoundedOutput) else 0
        return _BoundedOutput(self.env.limits.output_chars - used)

    @contextmanager
    def loop(self, namespace: Any, forloop: Any) -> Iterator[RenderContext]:
        """Count every loop's iterations against one bound for the whole render
        (python-liquid's own bound is per nest: sibling loops would each get it)."""
        self.iterations += forloop.length
        limit = self.env.limits.loop_iterations
        if self.iterations > limit:
            message = f"loop iteration limit reached ({limit}, all loops together)"
            raise LoopIterationLimitError(message, token=None)
        with super().loop(namespace, forloop) as context:
            yield context

    def filter(self, name: str, token: Token | None) -> Callable[..., object]:
        """Every filter, with its input, arguments and result bounded in size."""
        function = super().filter(name, token)
        return partial(guarded, name, function, self.env.limits.value_chars)


class _SandboxedTemplate(BoundTemplate):
    context_class = _SandboxedContext
    env: _SandboxedLiquid

    def _get_buffer(self) -> StringIO:
        return _BoundedOutput(self.env.limits.output_chars)


class _SandboxedLiquid(Environment):
    template_class = _SandboxedTemplate
    context_depth_limit = 10
    limits = DEFAULT_LIMITS


@cache
def _environment(limits: TemplateLimits) -> Environment:
    """The sandbox for `limits`: python-liquid reads its bounds from the class."""

    class Bounded(_SandboxedLiquid):
        output_stream_limit = limits.output_chars
        loop_iteration_limit = limits.loop_iterations
        local_namespace_limit = limits.value_chars * NAMESPACE_BYTES_PER_VALUE_CHAR

    Bounded.limits = limits
    return Bounded()


def _bounded_range(self: RangeLiteral, context: RenderContext) -> range:
    """A range `(a..b)` of at most the loop bound's numbers: loops are bounded by the
    loop bound, but a range is also a value (`(1..999999999) | join`, or output alone)."""
    numbers = _unbounded_range(self, context)
    limit = context.env.loop_iteration_limit
    if limit is not None and len(numbers) > limit:
        raise ResourceLimitError(f"range over {limit} numbers", token=None)
    return numbers


# python-liquid has no setting for this; it changes nothing for an environment without
# a loop bound
_unbounded_range = RangeLiteral.evaluate
RangeLiteral.evaluate = _bounded_range  # type: ignore[method-assign]


class TemplateError(ValueError):
    """A template that does not parse, or that broke a limit while rendering."""


def _first_line(error: Exception) -> str:
    return str(error).splitlines()[0] if str(error) else type(error).__name__


class Template:
    """A compiled template; `render` with one recipient's variables."""

    def __init__(self, source: str, limits: TemplateLimits = DEFAULT_LIMITS) -> None:
        self.source = source
        self._literal = not is_template(source)
        environment = _environment(limits)
        try:
            self._compiled = None if self._literal else environment.from_string(source)
        except LiquidError as error:
            raise TemplateError(_first_line(error)) from None
        if self._compiled is not None:
            _check_names(self._compiled, environment)
            problem = bounds_problem(self._compiled, limits.loop_iterations)
            if problem is not None:
                raise TemplateError(problem)

    def render(self, variables: dict[str, Any] | None) -> str:
        """The text for one recipient. MemoryError passes through: what to say about it
        belongs to the process that set the memory bound."""
        if self._compiled is None:
            return self.source
        try:
            return self._compiled.render(**(variables or {}))
        except LiquidError as error:
            raise TemplateError(_first_line(error)) from None
        except MemoryError:
            raise
        except Exception as error:  # a filter given a value it cannot take: 1e400 | round
            raise TemplateError(f"{type(error).__name__}: {error}"[:200]) from None


def _check_names(compiled: BoundTemplate, environment: Environment) -> None:
    """Refuse what python-liquid would only find while rendering, for every recipient:
    a misspelt filter, or a partial template (there are none to include)."""
    try:
        analysis = compiled.analyze(include_partials=False)
    except LiquidError as error:
        raise TemplateError(_first_line(error)) from None
    unknown = sorted(set(analysis.filters) - set(environment.filters))
    if unknown:
        raise TemplateError(f"unknown filter {', '.join(unknown)}")
    partials = sorted({"include", "render"} & set(analysis.tags))
    if partials:
        raise TemplateError(f"{' and '.join(partials)} is not supported: there are no partials")


def is_template(text: str) -> bool:
    return "{{" in text or "{%" in text


def compile_template(source: str, limits: TemplateLimits = DEFAULT_LIMITS) -> Template:
    return Template(source, limits)


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
