"""Writing an imported benchmark as a format-v1 dataset folder, whole or not at all.

Every importer fills an :class:`ImportedDataset` (nodes, edges, embeddings, images already in
the staging folder) and an :class:`ImportReport` of what was kept, changed or skipped and why;
:func:`staged_output` gives the folder to fill and swaps it in only when everything succeeded,
so a failed import leaves no half-written dataset. An existing, non-empty ``OUT`` is refused:
an import never overwrites data.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from pipeline.atomic import atomic_dir
from pipeline.errors import GraphFuseError

EMBEDDINGS_DIR = "embeddings"
IMAGES_DIR = "images"
REPORT_FILE = "import_report.json"
ID, LABEL, SPLIT, TEXT, IMAGE = "node_id", "label", "split", "text", "image"
SRC, DST = "src", "dst"


@dataclass
class ImportReport:
    """Counts and notes, printed by the CLI and kept as ``import_report.json`` in the dataset."""

    layout: str
    source: str
    counts: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"{self.layout} from {self.source}"]
        out += [f"  {key}: {value}" for key, value in self.counts.items()]
        return out + [f"note: {note}" for note in self.notes]


@dataclass
class ImportedDataset:
    name: str
    task: str
    nodes: pd.DataFrame  # node_id first; label, split, text, image when present
    edges: pd.DataFrame  # src, dst (and split for a link-prediction layout)
    embeddings: dict[str, str] = field(default_factory=dict)  # name -> file inside the folder
    source: dict[str, Any] = field(default_factory=dict)

    def spec(self) -> dict[str, Any]:
        columns = set(self.nodes.columns)
        spec: dict[str, Any] = {"name": self.name, "task": self.task, "id_column": ID}
        if LABEL in columns:
            spec["label_column"] = LABEL
        if SPLIT in columns:
            spec["split_column"] = SPLIT
        spec["text_columns"] = [TEXT] if TEXT in columns else []
        spec["image_column"] = IMAGE if IMAGE in columns else None
        spec["numeric_columns"] = []
        spec["categorical_columns"] = []
        edges: dict[str, Any] = {"file": "edges.csv", "source": SRC, "target": DST, "directed": False}
        if SPLIT in self.edges.columns:
            edges["split_column"] = SPLIT  # train/val/test per edge (link prediction)
        spec["edges"] = edges
        if self.embeddings:
            spec["embedding_modalities"] = {name: {"file": file} for name, file in self.embeddings.items()}
        spec["source"] = self.source
        return spec


@contextmanager
def staged_output(out: Path) -> Iterator[Path]:
    """A staging folder that becomes ``out`` when the block succeeds; ``out`` must be new or empty."""
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise GraphFuseError(f"{out}: already exists and is not an empty folder; an import never overwrites data")
    if not out.parent.is_dir():
        raise GraphFuseError(f"{out.parent}: no such folder")
    with atomic_dir(out) as staged:
        yield staged


def save_embedding(staged: Path, name: str, matrix: np.ndarray) -> str:
    """``embeddings/<name>.npy`` in the staging folder; returns the path the yaml names."""
    rel = f"{EMBEDDINGS_DIR}/{name}.npy"
    (staged / EMBEDDINGS_DIR).mkdir(exist_ok=True)
    np.save(staged / rel, np.ascontiguousarray(matrix), allow_pickle=False)
    return rel


def write_dataset(staged: Path, dataset: ImportedDataset, report: ImportReport) -> None:
    """nodes.csv, edges.csv, dataset.yaml and the report, into the staging folder."""
    dataset.nodes.to_csv(staged / "nodes.csv", index=False)
    dataset.edges.to_csv(staged / "edges.csv", index=False)
    spec_text = yaml.safe_dump(dataset.spec(), sort_keys=False, allow_unicode=True)
    (staged / "dataset.yaml").write_text(spec_text, encoding="utf-8")
    record = {"layout": report.layout, "source": report.source, "counts": report.counts, "notes": report.notes}
    (staged / REPORT_FILE).write_text(json.dumps(record, indent=2, default=str) + "\n", encoding="utf-8")


def label_cells(labels: np.ndarray | list[str], report: ImportReport, source: str) -> list[str]:
    """Labels as text; -1 (any negative index, or an empty cell) is an unlabelled node: an empty
    cell, kept in the graph and counted, never dropped."""
    if isinstance(labels, np.ndarray):
        cells = ["" if value < 0 else str(int(value)) for value in labels.tolist()]
    else:
        cells = ["" if cell.strip() in ("", "-1") else cell.strip() for cell in labels]
    unlabelled = sum(1 for cell in cells if cell == "")
    report.counts["labelled nodes"] = len(cells) - unlabelled
    report.counts["unlabelled nodes (label -1)"] = unlabelled
    if unlabelled:
        report.notes.append(
            f"{unlabelled} of {len(cells)} nodes are unlabelled in {source} (-1): kept in the graph with an "
            "empty label; they pass messages and are predicted, but are not trained or scored on"
        )
    return cells
