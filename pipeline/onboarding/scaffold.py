"""Turn a raw nodes table (plus edges and images) into a dataset folder: ``graphfuse init``'s work.

:func:`plan_dataset` reads the files and decides (roles inferred, flags winning); :func:`write_dataset`
puts the files in place and writes ``dataset.yaml`` with its schema comment, then runs the caller's
check; if anything fails, every file it added is removed again, and nothing the user had is ever
overwritten.
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from pipeline.dataset.dataset import IMAGES_DIR, NODES_CSV, NODES_PARQUET
from pipeline.dataset.schema import modeline
from pipeline.dataset.spec import SPEC_FILE, DatasetSpec
from pipeline.dataset.tables import read_table, sniff_separator
from pipeline.errors import DatasetError, GraphFuseError
from pipeline.onboarding.infer import ColumnRole, RoleOverrides, edge_endpoints, infer_roles, na_tokens_in

T = TypeVar("T")
EMPTY_EDGES = ("source", "target")


@dataclass(frozen=True)
class InitRequest:
    out: Path
    nodes: Path
    edges: Path | None = None
    images: Path | None = None
    name: str | None = None
    task: str = "node_classification"
    directed: bool = False
    overrides: RoleOverrides = field(default_factory=RoleOverrides)


@dataclass(frozen=True)
class InitPlan:
    roles: list[ColumnRole]
    spec: dict[str, Any]
    notes: list[str]


def plan_dataset(request: InitRequest) -> InitPlan:
    """Read the files and decide every key of dataset.yaml; writes nothing."""
    _check_inputs(request)
    sep = (sniff_separator(request.nodes) or ",") if request.nodes.suffix != ".parquet" else ","
    raw = read_table(request.nodes, sep=sep)
    na_values = na_tokens_in(raw)
    images = request.images or (request.out / IMAGES_DIR if (request.out / IMAGES_DIR).is_dir() else None)
    roles = infer_roles(
        raw,
        images=images,
        overrides=request.overrides,
        na_values=na_values,
        needs_label=request.task == "node_classification",
        where=request.nodes,
    )
    notes = [f"cells {na_values} read as missing values (na_values in dataset.yaml)"] if na_values else []
    spec = _spec(request, roles, _edges_entry(request, sep, notes))
    if na_values:
        spec["na_values"] = na_values
    if sep != ",":
        spec["sep"] = sep
        notes.append(f"{request.nodes.name} is separated by {sep!r} (sep in dataset.yaml)")
    try:
        DatasetSpec.model_validate(spec)
    except ValueError as exc:
        raise DatasetError(request.nodes, f"the inferred dataset.yaml is not valid: {exc}") from exc
    return InitPlan(roles, spec, notes)


def _check_inputs(request: InitRequest) -> None:
    if not request.nodes.is_file():
        raise DatasetError(request.nodes, "file not found: --nodes needs a CSV or Parquet file of nodes")
    if request.edges is not None and not request.edges.is_file():
        raise DatasetError(request.edges, "file not found: --edges needs a CSV or Parquet file of edges")
    if request.images is not None and not request.images.is_dir():
        raise DatasetError(request.images, "folder not found: --images needs a folder of image files")
    if (request.out / SPEC_FILE).exists():
        raise DatasetError(
            request.out / SPEC_FILE, "already exists; init never overwrites it (edit it, or remove it to start over)"
        )


def _edges_entry(request: InitRequest, sep: str, notes: list[str]) -> dict[str, Any]:
    if request.edges is None:
        notes.append("no --edges: an empty edges.csv is written, every node is isolated (add edges there later)")
        return {"file": "edges.csv", "source": EMPTY_EDGES[0], "target": EMPTY_EDGES[1], "directed": request.directed}
    table = read_table(request.edges, sep=sep)
    source, target, reason = edge_endpoints(table, request.edges)
    notes.append(f"edges: '{source}' -> '{target}' ({reason})")
    return {"file": _edges_name(request), "source": source, "target": target, "directed": request.directed}


def _edges_name(request: InitRequest) -> str:
    assert request.edges is not None
    if request.edges.resolve().is_relative_to(request.out.resolve()):
        return request.edges.resolve().relative_to(request.out.resolve()).as_posix()
    return "edges" + (".parquet" if request.edges.suffix == ".parquet" else ".csv")


def _spec(request: InitRequest, roles: list[ColumnRole], edges: dict[str, Any]) -> dict[str, Any]:
    of = {role: [r.column for r in roles if r.role == role] for role in ("id", "label", "text", "image")}
    spec: dict[str, Any] = {"name": request.name or _slug(request.out.resolve().name), "task": request.task}
    spec["id_column"] = of["id"][0]
    if of["label"]:
        spec["label_column"] = of["label"][0]
    spec["text_columns"] = of["text"]
    if of["image"]:
        spec["image_column"] = of["image"][0]
    if len(of["image"]) > 1:
        spec["image_columns"] = of["image"][1:]
    spec["numeric_columns"] = [r.column for r in roles if r.role == "numeric"]
    spec["categorical_columns"] = [r.column for r in roles if r.role == "categorical"]
    spec["edges"] = edges
    spec["source"] = f"graphfuse init from {request.nodes.name}"
    return spec


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "-", text).strip("-.") or "dataset"


def write_dataset(request: InitRequest, plan: InitPlan, check: Callable[[Path], T]) -> T:
    """Copy the files into ``request.out``, write dataset.yaml, and return ``check(out)``; on any
    failure the files added are removed again (the user's own are never touched)."""
    out = request.out
    added: list[Path] = []
    try:
        if not out.exists():
            out.mkdir(parents=True)
            added.append(out)
        _place(request.nodes, out / (NODES_PARQUET if request.nodes.suffix == ".parquet" else NODES_CSV), added)
        edges_target = out / plan.spec["edges"]["file"]
        if request.edges is not None:
            _place(request.edges, edges_target, added)
        elif not edges_target.exists():
            edges_target.write_text(plan.spec.get("sep", ",").join(EMPTY_EDGES) + "\n", encoding="utf-8")
            added.append(edges_target)
        if request.images is not None:
            _place(request.images, out / IMAGES_DIR, added)
        spec_path = out / SPEC_FILE
        text = yaml.safe_dump(plan.spec, sort_keys=False, allow_unicode=True)
        spec_path.write_text(f"{modeline(spec_path)}\n{text}", encoding="utf-8")
        added.append(spec_path)
        return check(out)
    except BaseException:
        for path in reversed(added):
            shutil.rmtree(path) if path.is_dir() and not path.is_symlink() else path.unlink(missing_ok=True)
        raise


def _place(source: Path, target: Path, added: list[Path]) -> None:
    """``source`` at ``target``: nothing to do if it is already there, a copy if ``target`` is free."""
    if target.exists() and source.resolve() == target.resolve():
        return
    if target.exists():
        raise GraphFuseError(f"{target}: already exists and is not {source}; init never overwrites a file")
    if source.is_dir():
        shutil.copytree(source, target)
    else:
        shutil.copy2(source, target)
    added.append(target)
