"""The shape of the house: which package may import which, read from the source itself.

Every `import` of `src/opencomms` counts, those under `if TYPE_CHECKING:` too (a type
named across packages is a dependency all the same). A package is a directory under
`opencomms/` (api, domain, engine, ...) or a top-level module (settings, app, ...).
"""

from __future__ import annotations

import ast
import itertools
from collections.abc import Iterator
from pathlib import Path

import pytest

SOURCE = Path(__file__).resolve().parent.parent / "src" / "opencomms"

# What `api/` may import from the engine: the engine acts (cancels, is woken through the
# Runtime it hangs on the app) and the api asks it to; the vocabulary the api speaks
# (time, statuses, event types, ids) comes from domain/, never from the engine.
API_MAY_IMPORT_FROM_ENGINE = frozenset(
    {
        "opencomms.engine.cancel",  # cancel_message, cancel_operation: an action
        "opencomms.engine.runtime",  # the Runtime type of `runtime_of` (fanout_ready, wake_sink)
    }
)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(SOURCE.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(path: Path) -> Iterator[str]:
    """Every `opencomms.…` module `path` imports, relative imports resolved."""
    package = module_name(path).split(".")
    if path.name != "__init__.py":
        package = package[:-1]
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = package[: len(package) - node.level + 1] if node.level else []
            names = [".".join([*base, node.module] if node.module else base)]
        else:
            continue
        yield from (name for name in names if name.startswith("opencomms."))


def package_of(module: str) -> str:
    """`opencomms.engine.fanout` → `engine`; `opencomms.settings` → `settings`."""
    return module.split(".")[1]


def module_imports() -> dict[str, set[str]]:
    return {module_name(path): set(imported_modules(path)) for path in sorted(SOURCE.rglob("*.py"))}


def package_graph(imports: dict[str, set[str]]) -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for module, targets in imports.items():
        if module == "opencomms":
            continue
        source = package_of(module)
        graph.setdefault(source, set()).update(
            package_of(target) for target in targets if package_of(target) != source
        )
    return graph


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    """One cycle of `graph` as the nodes along it (first repeated last), or None."""
    done: set[str] = set()

    def visit(node: str, path: list[str]) -> list[str] | None:
        if node in path:
            return [*path[path.index(node) :], node]
        if node in done:
            return None
        for target in sorted(graph.get(node, ())):
            if cycle := visit(target, [*path, node]):
                return cycle
        done.add(node)
        return None

    for node in sorted(graph):
        if cycle := visit(node, []):
            return cycle
    return None


def importers(imports: dict[str, set[str]], source: str, target: str) -> list[str]:
    """`module -> imported` lines of package `source` importing from package `target`."""
    return sorted(
        f"{module} -> {name}"
        for module, names in imports.items()
        if module != "opencomms" and package_of(module) == source
        for name in names
        if package_of(name) == target
    )


def test_the_source_is_found_and_read() -> None:
    """Guards the tests below against passing on an empty graph."""
    graph = package_graph(module_imports())
    assert {"api", "domain", "engine", "events", "store", "connectors", "settings"} <= set(graph)
    assert "store" in graph["engine"]


def test_no_package_imports_itself_through_others() -> None:
    imports = module_imports()
    cycle = find_cycle(package_graph(imports))
    if cycle is not None:
        edges = [
            line
            for source, target in itertools.pairwise(cycle)
            for line in importers(imports, source, target)
        ]
        pytest.fail("package cycle " + " -> ".join(cycle) + ":\n  " + "\n  ".join(edges))


def test_the_domain_imports_no_other_package() -> None:
    """domain/ holds the nouns and pure rules every other package speaks."""
    assert package_graph(module_imports()).get("domain", set()) == set()


def test_the_settings_import_no_connector() -> None:
    """A connector registers its own configuration type (connectors/registry.py)."""
    assert importers(module_imports(), "settings", "connectors") == []


def test_the_api_imports_the_engine_only_to_act() -> None:
    imports = module_imports()
    used = {line.split(" -> ")[1] for line in importers(imports, "api", "engine")}
    assert used <= API_MAY_IMPORT_FROM_ENGINE, sorted(used - API_MAY_IMPORT_FROM_ENGINE)


def test_the_cycle_finder_names_a_cycle() -> None:
    """The finder itself: a cycle is found and named, an acyclic graph passes."""
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b", "c"}, "b": {"c"}, "c": set()}) is None


# The layers of docs/architecture.md, bottom up: a package imports only from its own
# layer's packages' lower layers (never from its own layer, never from above).
LAYERS = (
    {"domain"},
    {"settings", "sealing"},
    {"store"},
    {"metrics"},
    {"background"},
    {"connectors"},
    {"events"},
    {"engine"},
    {"api", "console"},
    {"openapi"},
    {"app"},
    {"cli"},
    {"__main__"},
)
MAP = SOURCE.parent.parent / "docs" / "architecture.md"


def test_each_package_imports_only_from_the_layers_below_it() -> None:
    imports = module_imports()
    graph = package_graph(imports)
    layer_of = {package: index for index, layer in enumerate(LAYERS) for package in layer}
    assert set(graph) <= set(layer_of), sorted(set(graph) - set(layer_of))
    upward = [
        line
        for source, targets in graph.items()
        for target in targets
        if target != "opencomms" and layer_of[target] >= layer_of[source]
        for line in importers(imports, source, target)
    ]
    assert not upward, "imports from the same layer or above:\n  " + "\n  ".join(upward)


def test_the_map_names_every_module() -> None:
    """docs/architecture.md lists every module of src/opencomms (migrations aside)."""
    text = MAP.read_text()
    modules = [
        str(path.relative_to(SOURCE))
        for path in sorted(SOURCE.rglob("*.py"))
        if "migrations" not in path.parts and path.name not in ("__init__.py", "__main__.py")
    ]
    assert len(modules) > 100
    missing = [module for module in modules if f"`{module}`" not in text]
    assert not missing, f"not in docs/architecture.md: {missing}"
