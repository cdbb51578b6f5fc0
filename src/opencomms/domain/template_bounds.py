"""What can be known, before any recipient, about a template that cannot finish.

A template whose loops must run more iterations than `[templates] loop_iterations`
would fail for every recipient; it is refused at accept (a 400) instead. Only what is
certain counts: loops over literal ranges (`(1..500)`, with a literal `limit:` or
`offset:`) outside any `if`, `unless` or `case`, nested loops multiplying, sibling loops
adding. A range literal of more numbers than the bound is refused wherever it is.
Loops over variables are bounded while rendering, recipient by recipient.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator

from liquid import BoundTemplate, RenderContext
from liquid.ast import BlockNode, Node
from liquid.builtin.expressions.loop import LoopExpression
from liquid.builtin.expressions.primitive import IntegerLiteral, RangeLiteral
from liquid.builtin.tags.capture_tag import CaptureNode
from liquid.builtin.tags.for_tag import ForNode
from liquid.builtin.tags.liquid_tag import LiquidNode
from liquid.builtin.tags.tablerow_tag import TablerowNode
from liquid.expression import Expression

__all__ = ["bounds_problem", "certain_iterations"]

# nodes whose children always render when the node does
_UNCONDITIONAL = (BlockNode, CaptureNode, LiquidNode)


def bounds_problem(template: BoundTemplate, loop_iterations: int) -> str | None:
    """Why `template` cannot finish within `loop_iterations`, or None."""
    context = RenderContext(template)
    limit = f"over the limit of {loop_iterations}"
    for expression in _expressions(template.nodes, context):
        numbers = _literal_range(expression)
        if numbers is not None and numbers > loop_iterations:
            return f"the range {expression} has {numbers} numbers, {limit}"
    iterations = certain_iterations(template.nodes, context)
    if iterations > loop_iterations:
        return f"its loops run {iterations} iterations, {limit} (all loops together)"
    return None


def certain_iterations(nodes: Iterable[Node], context: RenderContext) -> int:
    """The loop iterations that rendering `nodes` runs whatever the variables: each loop
    counts its length, once per iteration of the loops around it."""
    total = 0
    for node in nodes:
        if isinstance(node, ForNode | TablerowNode):
            length = _loop_length(node.expression)
            if length:
                total += length * (1 + certain_iterations([node.block], context))
        elif isinstance(node, _UNCONDITIONAL):
            total += certain_iterations(node.children(context), context)
    return total


def _loop_length(loop: LoopExpression) -> int:
    """The iterations of a loop over a literal range (0 when not known)."""
    numbers = _literal_range(loop.iterable) or 0
    offset, limit = loop.offset, loop.limit
    if offset is not None:
        numbers = max(numbers - offset.value, 0) if isinstance(offset, IntegerLiteral) else 0
    if limit is not None:
        numbers = min(numbers, max(limit.value, 0)) if isinstance(limit, IntegerLiteral) else 0
    return numbers


def _literal_range(expression: Expression) -> int | None:
    """The count of numbers of `(a..b)` with literal integer bounds, else None."""
    if not isinstance(expression, RangeLiteral):
        return None
    start, stop = expression.start, expression.stop
    if isinstance(start, IntegerLiteral) and isinstance(stop, IntegerLiteral):
        return max(stop.value - start.value + 1, 0)
    return None


def _expressions(nodes: Iterable[Node], context: RenderContext) -> Iterator[Expression]:
    for node in nodes:
        for expression in node.expressions():
            yield from _subexpressions(expression)
        yield from _expressions(node.children(context, include_partials=False), context)


def _subexpressions(expression: Expression) -> Iterator[Expression]:
    yield expression
    for child in expression.children():
        yield from _subexpressions(child)
