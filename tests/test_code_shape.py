"""The house's size budget (issue 11): no function of `src/opencomms` is over 50 lines.

A function's length runs from its first decorator to its last line, docstring and
comments included: what a reader has to hold at once. ruff checks complexity (mccabe,
10); this checks length, which ruff has no rule for. Migrations are excluded: each is a
frozen record of a schema, written once and never read as code.
"""

from __future__ import annotations

import ast
from pathlib import Path

import opencomms

MAX_FUNCTION_LINES = 50
SOURCE = Path(opencomms.__file__).parent
EXCLUDED = SOURCE / "store" / "migrations" / "versions"


def function_lengths(source: str) -> list[tuple[str, int, int]]:
    """(qualified name, first line, length in lines) of each function in `source`,
    nested ones and methods included."""
    found: list[tuple[str, int, int]] = []

    def visit(node: ast.AST, prefix: str) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                name = f"{prefix}{child.name}"
                if not isinstance(child, ast.ClassDef):
                    first = min([child.lineno, *(d.lineno for d in child.decorator_list)])
                    assert child.end_lineno is not None
                    found.append((name, first, child.end_lineno - first + 1))
                visit(child, f"{name}.")
            else:
                visit(child, prefix)

    visit(ast.parse(source), "")
    return found


def source_files() -> list[Path]:
    return sorted(p for p in SOURCE.rglob("*.py") if EXCLUDED not in p.parents)


def test_the_length_is_counted_from_the_first_decorator_to_the_last_line() -> None:
    source = (
        "@first\n"
        "@second(\n"
        "    1)\n"
        "def outer():\n"
        "    def inner():\n"
        "        return 1\n"
        "    return inner\n"
        "class Box:\n"
        "    async def method(self):\n"
        "        pass\n"
    )

    assert function_lengths(source) == [
        ("outer", 1, 7),
        ("outer.inner", 5, 2),
        ("Box.method", 9, 2),
    ]


def test_the_walk_sees_the_source_and_leaves_the_migrations_out() -> None:
    files = source_files()

    assert SOURCE / "api" / "send_request.py" in files
    assert any(EXCLUDED.glob("*.py"))
    assert not any(EXCLUDED in path.parents for path in files)


def test_no_function_is_over_50_lines() -> None:
    too_long = [
        f"{path.relative_to(SOURCE)}:{line} {name} ({length} lines)"
        for path in source_files()
        for name, line, length in function_lengths(path.read_text(encoding="utf-8"))
        if length > MAX_FUNCTION_LINES
    ]

    assert not too_long, f"over {MAX_FUNCTION_LINES} lines:\n" + "\n".join(too_long)
