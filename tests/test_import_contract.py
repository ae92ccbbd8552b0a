"""The import contract (docs/architecture.md): the layers of GraphFuse, top to bottom, and the rule
that an import only points down or sideways within a layer, never up and never in a loop.

Read from the source (nothing imported); imports under ``if TYPE_CHECKING:`` are for the type
checker only and do not count. The deprecated module names (``pipeline/bundle.py`` and the like,
aliases of their new homes) are exempt: they only re-export.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.unit

REPO = Path(__file__).resolve().parents[1]

#: (layer, package prefixes), top to bottom; the longest matching prefix decides a module's layer.
LAYERS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("faces", ("pipeline.cli", "pipeline.console", "flows")),
    ("operations", ("pipeline.ops", "pipeline.dvc_deps", "pipeline.onboarding")),
    ("stages", ("pipeline.stages",)),
    ("services", ("pipeline.tracking", "pipeline.inference")),
    ("tasks", ("pipeline.tasks", "pipeline.search")),
    (
        "library",
        (
            "pipeline.training",
            "pipeline.evaluation",
            "pipeline.graph",
            "pipeline.features",
            "pipeline.encoders",
            "pipeline.cache",
            "pipeline.importers",
            "pipeline.synth",
        ),
    ),
    ("ground", ("pipeline",)),  # models, dataset, config, paths, atomic, errors, device, ...
)


def _module(path: Path) -> str:
    parts = list(path.relative_to(REPO).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _layer(module: str) -> int | None:
    best: tuple[int, int] | None = None
    for rank, (_, prefixes) in enumerate(LAYERS):
        for prefix in prefixes:
            if (module == prefix or module.startswith(prefix + ".")) and (best is None or len(prefix) > best[1]):
                best = (rank, len(prefix))
    return None if best is None else best[0]


def _imports(path: Path, module: str, modules: set[str]) -> set[str]:
    """The project modules ``path`` imports at run time (resolved to modules that exist)."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    typing_only = {
        id(n)
        for node in ast.walk(tree)
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test)
        for statement in node.body
        for n in ast.walk(statement)
    }
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            names = [base] + [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        found.update(name for name in names if name in modules)
    return found - {module}


def _graph() -> dict[str, set[str]]:
    """module -> the modules it imports; an import of a deprecated name counts as one of its new home."""
    paths = {_module(p): p for root in ("pipeline", "flows") for p in sorted((REPO / root).rglob("*.py"))}
    aliases = {}
    for module, path in paths.items():
        text = path.read_text(encoding="utf-8")
        if "sys.modules[__name__]" in text:
            (target,) = (t for t in _imports(path, module, set(paths)) if t != "sys")
            aliases[module] = target
    return {
        m: {aliases.get(t, t) for t in _imports(p, m, set(paths))} - {m} for m, p in paths.items() if m not in aliases
    }


def test_no_import_points_up_a_layer() -> None:
    upward = []
    for module, targets in _graph().items():
        for target in targets:
            here, there = _layer(module), _layer(target)
            if here is not None and there is not None and there < here:
                upward.append(f"{module} ({LAYERS[here][0]}) imports {target} ({LAYERS[there][0]})")
    assert upward == [], "\n".join(sorted(upward))


def test_no_import_circles() -> None:
    graph = _graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    circles: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan's strongly connected components
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph.get(node, ()):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                circles.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    assert circles == [], circles


def test_every_module_has_a_layer() -> None:
    assert [m for m in _graph() if _layer(m) is None] == []
