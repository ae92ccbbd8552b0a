"""dvc.yaml's code dependencies, computed from the imports: a stale result must be impossible.

A stage's output can only be trusted while every line of code that produced it is a DVC
dependency. Listing them by hand drifts (a new helper module, a constant imported from another
stage), so this module computes, for each ``graphfuse stage NAME`` in dvc.yaml, the closure of
the project modules that stage imports (statically, from the source, functions' lazy imports
included), and writes or checks the ``pipeline/``/``flows/`` entries of its ``deps``.

Run ``graphfuse dvc-deps --write`` after adding a module; ``--check`` (and the test suite)
fails while dvc.yaml misses one. Data dependencies (anything outside the code folders) are kept
as they are. A folder is listed whole when every module in it is used, so a file added to it
later is covered too.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterable
from pathlib import Path

CODE_DIRS = ("pipeline", "flows")
#: What the stage runner itself executes for every stage besides the stage module: the typed
#: params and the output paths (the CLI and flows only dispatch and do not shape any output).
COMMON_ROOTS = ("pipeline.config", "pipeline.paths")
_STAGE_CMD = re.compile(r"^graphfuse\s+stage\s+(\w+)\b")
#: A string constant naming a sibling source file (e.g. MLflow's models-from-code entry point).
_PY_FILE = re.compile(r"^[\w.-]+\.py$")
#: A string constant naming a project module: loaded by name on first use (PEP 562's lazy
#: ``pipeline.training``), so it runs as an import does. ``module:function`` targets (the stage
#: registry's) are dispatch, as the CLI and flows are, and are not followed.
_MODULE_NAME = re.compile(r"^(?:pipeline|flows)(?:\.\w+)+$")


def _module_file(root: Path, module: str) -> Path | None:
    """The source file of a project module, or None when it is not one of ours."""
    parts = module.split(".")
    if parts[0] not in CODE_DIRS:
        return None
    base = root.joinpath(*parts)
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _package_of(root: Path, path: Path) -> str:
    rel = path.relative_to(root).with_suffix("")
    parts = list(rel.parts)
    if parts[-1] == "__init__":
        parts.pop()
        return ".".join(parts)
    return ".".join(parts[:-1])


def _type_checking_nodes(tree: ast.AST) -> set[int]:
    """Ids of the nodes under ``if TYPE_CHECKING:``: imports for the type checker, never run."""
    skip: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skip.update(id(n) for statement in node.body for n in ast.walk(statement))
    return skip


def _imported_modules(root: Path, path: Path) -> set[str]:
    """Every module named by an import anywhere in ``path`` (and ``from x import sub`` submodules)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    package = _package_of(root, path)
    typing_only = _type_checking_nodes(tree)
    found: set[str] = set()
    for node in ast.walk(tree):
        if id(node) in typing_only:
            continue
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base_parts = package.split(".")
                base_parts = base_parts[: len(base_parts) - (node.level - 1)]
                base = ".".join(base_parts + ([node.module] if node.module else []))
            else:
                base = node.module or ""
            found.add(base)
            found.update(f"{base}.{alias.name}" for alias in node.names)
        elif isinstance(node, ast.Constant) and isinstance(node.value, str) and _MODULE_NAME.match(node.value):
            found.add(node.value)
    return found


def _sibling_files(path: Path) -> set[Path]:
    """Source files that ``path`` names as string constants (code loaded by path, not import)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    out = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Constant) and isinstance(node.value, str) and _PY_FILE.match(node.value):
            candidate = path.with_name(node.value)
            if candidate.is_file():
                out.add(candidate)
    return out


def _with_parents(module: str) -> list[str]:
    """Importing ``a.b.c`` runs ``a/__init__``, ``a/b/__init__`` and ``a/b/c``."""
    parts = module.split(".")
    return [".".join(parts[: i + 1]) for i in range(len(parts))]


def module_closure(root: Path, modules: Iterable[str]) -> set[Path]:
    """Every project source file that importing ``modules`` runs, transitively."""
    seen: set[Path] = set()
    todo: list[Path] = []
    for module in modules:
        for name in _with_parents(module):
            path = _module_file(root, name)
            if path is not None:
                todo.append(path)
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen.add(path)
        todo.extend(_sibling_files(path) - seen)
        for module in _imported_modules(root, path):
            for name in _with_parents(module):
                dep = _module_file(root, name)
                if dep is not None and dep not in seen:
                    todo.append(dep)
    return seen


def stage_module(root: Path, stage: str) -> str:
    """The module that runs ``stage``, from the one stage registry."""
    from pipeline.stages.registry import stage_spec

    try:
        module = stage_spec(stage).module
    except KeyError as exc:
        raise ValueError(str(exc)) from None
    if _module_file(root, module) is None:
        raise ValueError(f"stage {stage!r}: no module {module.replace('.', '/')}.py")
    return module


def _compress(root: Path, files: set[Path]) -> list[str]:
    """Relative paths; a folder (recursively) whose every .py file is used is named as the folder."""
    used = {f.relative_to(root) for f in files}
    out: set[str] = set()

    def covered(folder: Path) -> bool:
        sources = [p.relative_to(root) for p in (root / folder).rglob("*.py") if "__pycache__" not in p.parts]
        return bool(sources) and all(s in used for s in sources)

    for rel in used:
        # The highest folder (below the top-level package) that is wholly used.
        chosen = rel.as_posix()
        parents = list(rel.parents)[:-1]  # drop "."
        for parent in reversed(parents):
            if len(parent.parts) > 1 and covered(parent):
                chosen = parent.as_posix()
                break
        out.add(chosen)
    return sorted(out)


def stage_code_deps(root: Path, stage: str) -> list[str]:
    modules = [stage_module(root, stage), *COMMON_ROOTS]
    return _compress(root, module_closure(root, modules))


def _is_code(dep: str) -> bool:
    return dep.split("/")[0] in CODE_DIRS


def _stages(dvc_yaml: dict) -> dict[str, str]:
    """dvc stage name -> graphfuse stage name, for the stages dvc.yaml runs through graphfuse."""
    out = {}
    for name, stage in (dvc_yaml.get("stages") or {}).items():
        match = _STAGE_CMD.match(str(stage.get("cmd", "")).strip())
        if match:
            out[name] = match.group(1)
    return out


def _yaml():
    from ruamel.yaml import YAML  # DVC's own YAML library: keeps comments and layout

    round_trip = YAML(typ="rt")  # round-trip: plain data and comments, never Python objects
    round_trip.preserve_quotes = True
    round_trip.indent(mapping=2, sequence=4, offset=2)
    round_trip.width = 4096
    return round_trip


def expected_deps(root: Path, current: list[str], stage: str) -> list[str]:
    """The stage's data deps as they are, then its computed code deps."""
    data = [d for d in current if not _is_code(str(d))]
    return data + stage_code_deps(root, stage)


def check(root: Path) -> list[str]:
    """Problems found, one line each (empty when dvc.yaml is complete)."""
    doc = _yaml().load((root / "dvc.yaml").read_text(encoding="utf-8"))
    problems = []
    for dvc_name, stage in _stages(doc).items():
        current = [str(d) for d in doc["stages"][dvc_name].get("deps", [])]
        expected = expected_deps(root, current, stage)
        missing = [d for d in expected if d not in current]
        extra = [d for d in current if _is_code(d) and d not in expected]
        if missing:
            problems.append(f"dvc.yaml stage {dvc_name}: code it imports is not a dependency: {', '.join(missing)}")
        if extra:
            problems.append(f"dvc.yaml stage {dvc_name}: dependencies it does not import: {', '.join(extra)}")
    return problems


def write(root: Path) -> bool:
    """Rewrite the code deps of every graphfuse stage in dvc.yaml; True when the file changed."""
    from ruamel.yaml.comments import CommentedSeq

    path = root / "dvc.yaml"
    text = path.read_text(encoding="utf-8")
    round_trip = _yaml()
    doc = round_trip.load(text)
    for dvc_name, stage in _stages(doc).items():
        current = [str(d) for d in doc["stages"][dvc_name].get("deps", [])]
        doc["stages"][dvc_name]["deps"] = CommentedSeq(expected_deps(root, current, stage))
    from io import StringIO

    buffer = StringIO()
    round_trip.dump(doc, buffer)
    if buffer.getvalue() == text:
        return False
    from pipeline.atomic import write_text

    write_text(path, buffer.getvalue())
    return True
