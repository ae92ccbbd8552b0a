"""The processed dataset (``data/processed/dataset/``) that every later stage reads.

Parquet keeps dtypes exactly, so later stages see the same frames ``load_dataset`` built
without re-validating the raw folder. The folder is
written whole and swapped in (see :func:`pipeline.atomic.atomic_dir`); ``dataset.json``'s sorted
keys keep DVC hashes stable.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pandas as pd

from pipeline.atomic import atomic_dir, read_json, write_json, write_with
from pipeline.dataset.dataset import STRING_DTYPE, LoadedDataset
from pipeline.dataset.spec import DatasetSpec
from pipeline.dataset.split import SPLITS
from pipeline.errors import DatasetError
from pipeline.formats import DATASET_STORE, check_format

NODES_FILE = "nodes.parquet"
EDGES_FILE = "edges.parquet"
INFO_FILE = "dataset.json"
#: Name of the split column in nodes.parquet; dunder-prefixed so no user column clashes.
SPLIT_COLUMN = "__graphfuse_split__"
STORE_FORMAT = DATASET_STORE


def write_processed(dataset: LoadedDataset, out_dir: str | Path, *, project_root: str | Path = ".") -> dict[str, Any]:
    """Write nodes, edges and a summary to ``out_dir``, each file atomically; return the summary.

    The dataset folder is recorded relative to ``project_root`` when inside it, so the output
    hashes the same wherever the project is cloned and whatever the working directory."""
    if dataset.split is None:
        raise ValueError("write_processed needs dataset.split: call with_splits first")
    if SPLIT_COLUMN in dataset.nodes.columns:
        raise ValueError(f"nodes already have a column named {SPLIT_COLUMN!r}")
    nodes = dataset.nodes.copy()
    nodes[SPLIT_COLUMN] = dataset.split.astype(STRING_DTYPE).to_numpy()
    info = _info(dataset, Path(project_root))
    with atomic_dir(out_dir) as out:  # the old set stays whole until the new one is complete
        write_with(out / NODES_FILE, lambda p: nodes.to_parquet(p, index=False))
        write_with(out / EDGES_FILE, lambda p: dataset.edges.to_parquet(p, index=False))
        write_json(out / INFO_FILE, info)
    return info


def read_processed(out_dir: str | Path, *, project_root: str | Path = ".") -> LoadedDataset:
    """Read what :func:`write_processed` wrote; the result equals the dataset written."""
    out = Path(out_dir)
    info_path = out / INFO_FILE
    if not info_path.is_file():
        raise DatasetError(info_path, "file not found: the processed dataset is missing or incomplete")
    info = read_json(info_path)
    check_format(info_path, info.get("format"), STORE_FORMAT, "the validate stage")
    spec = DatasetSpec.model_validate(info["spec"])
    try:
        nodes = pd.read_parquet(out / NODES_FILE)
        edges = pd.read_parquet(out / EDGES_FILE)
    except (OSError, ValueError) as exc:
        raise DatasetError(out, f"cannot read the processed dataset: {exc}") from exc
    counts = info["counts"]
    if len(nodes) != counts["nodes"] or len(edges) != counts["edges"]:
        raise DatasetError(info_path, "nodes.parquet or edges.parquet do not match dataset.json: rewrite them")
    split = nodes.pop(SPLIT_COLUMN).astype(STRING_DTYPE).rename("split")
    nodes = _restore_dtypes(spec, nodes)
    edges = edges.astype(dict.fromkeys(edges.columns, STRING_DTYPE))  # source, target (and split)
    return LoadedDataset(
        root=(Path(project_root) / info["root"]).resolve(),
        spec=spec,
        nodes=nodes.reset_index(drop=True),
        edges=edges.reset_index(drop=True),
        split=split.reset_index(drop=True),
        notes=tuple(info["notes"]),
        nodes_file_name=info["nodes_file"],
    )


def _restore_dtypes(spec: DatasetSpec, nodes: pd.DataFrame) -> pd.DataFrame:
    """Pin dtypes to what load_dataset makes, whatever the parquet round trip inferred."""
    numeric = set(spec.numeric_columns)
    dtypes = {c: ("float64" if c in numeric else STRING_DTYPE) for c in nodes.columns}
    return nodes.astype(dtypes)


def _portable(root: Path, project_root: Path) -> str:
    """The dataset folder relative to the project root when inside it, so the processed output
    hashes the same wherever the project is cloned."""
    try:
        return Path(root).resolve().relative_to(project_root.resolve()).as_posix()
    except ValueError:
        return str(Path(root).resolve())


def _info(dataset: LoadedDataset, project_root: Path) -> dict[str, Any]:
    assert dataset.split is not None
    labels = dataset.labels
    split = dataset.split
    per_split = {name: int((split == name).sum()) for name in SPLITS}
    per_class = {
        cls: {name: int(((labels == cls) & (split == name)).sum()) for name in SPLITS} for cls in dataset.classes
    }
    return {
        "format": STORE_FORMAT,
        "spec": dataset.spec.model_dump(mode="json"),
        "root": _portable(dataset.root, project_root),
        "nodes_file": dataset.nodes_file_name,
        "split_column": SPLIT_COLUMN,
        "notes": list(dataset.notes),
        "counts": {
            "nodes": len(dataset.nodes),
            "edges": len(dataset.edges),
            "labelled": int(dataset.labelled.sum()),
            "classes": len(dataset.classes),
            "splits": per_split,
            "class_splits": per_class,
            **_edge_split_counts(dataset),
        },
    }


def _edge_split_counts(dataset: LoadedDataset) -> dict[str, Any]:
    """Link prediction: edges per split (an edges row without a split is a dropped self-loop)."""
    if "split" not in dataset.edges.columns:
        return {}
    split = dataset.edges["split"]
    return {"edge_splits": {name: int((split == name).sum()) for name in SPLITS}}
