"""The dataset's edges file: read, every endpoint checked against the node ids, and notes on the graph.

Apart from :mod:`pipeline.dataset.load` because edges are their own file with their own checks
(millions of rows, checked vectorised) and their own optional split column for link prediction.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.dataset.dataset import STRING_DTYPE, Dataset
from pipeline.dataset.hints import did_you_mean, more_rows
from pipeline.dataset.spec import DatasetSpec
from pipeline.dataset.tables import read_table
from pipeline.errors import DatasetError


def load_edges(spec: DatasetSpec, root: Path, spec_path: Path, ids: set[str]) -> pd.DataFrame:
    """The edges file as source/target id strings (and the split column, if named); every endpoint
    must be a node of ``ids``, and an error names the first bad row and column."""
    path = root / spec.edges.file
    if not path.resolve().is_relative_to(root):
        raise DatasetError(
            spec_path,
            f"edges.file '{spec.edges.file}' resolves outside the dataset folder",
        )
    if not path.is_file():
        raise DatasetError(path, f"file not found: edges.file in dataset.yaml names '{spec.edges.file}'")
    raw = read_table(path, sep=spec.sep)
    for key, column in (("edges.source", spec.edges.source), ("edges.target", spec.edges.target)):
        if column not in raw.columns:
            raise DatasetError(
                path,
                f"column '{column}' named by {key} in dataset.yaml is not in {path.name}"
                f"{did_you_mean(column, raw.columns)}; its columns are: " + ", ".join(c for c in raw.columns if c),
                column=column,
            )
    known = pd.Index(sorted(ids))
    for column in (spec.edges.source, spec.edges.target):
        cells = raw[column]  # vectorised (one hash lookup each): millions of edges take seconds
        empty = np.flatnonzero((cells == "").to_numpy(dtype=bool))
        if empty.size:
            raise DatasetError(
                path,
                "empty endpoint: every edge needs both a source and a target id",
                row=Dataset.file_row(int(empty[0])),
                column=column,
            )
        unknown = np.flatnonzero(known.get_indexer(cells) == -1)
        if unknown.size:
            first = int(unknown[0])
            more = more_rows(unknown, "rows in this column do too")
            raise DatasetError(
                path,
                f"unknown id '{cells.iloc[first]}': no node in the nodes file has this id{more}",
                row=Dataset.file_row(first),
                column=column,
            )
    columns = {
        "source": raw[spec.edges.source].astype(STRING_DTYPE),
        "target": raw[spec.edges.target].astype(STRING_DTYPE),
    }
    if spec.edges.split_column:
        columns[EDGE_SPLIT_COLUMN] = _edge_split_cells(raw, spec.edges.split_column, path)
    return pd.DataFrame(columns, index=pd.RangeIndex(len(raw)))


#: Column of the edges frame holding the user's train/val/test per edge (``edges.split_column``).
EDGE_SPLIT_COLUMN = "split"


def _edge_split_cells(raw: pd.DataFrame, column: str, path: Path) -> pd.Series:
    """``edges.split_column``'s cells, lower-cased; anything but train/val/test is an error naming the row."""
    if column not in raw.columns:
        raise DatasetError(
            path,
            f"column '{column}' named by edges.split_column in dataset.yaml is not in {path.name}"
            f"{did_you_mean(column, raw.columns)}",
            column=column,
        )
    cells = raw[column].astype(STRING_DTYPE).str.strip().str.lower()
    bad = np.flatnonzero(~cells.isin(["train", "val", "test"]).to_numpy(dtype=bool))
    if bad.size:
        first = int(bad[0])
        raise DatasetError(
            path,
            f"split value '{raw[column].iloc[first]}' is not one of train, val, test"
            f"{more_rows(bad, 'rows in this column are not either')}",
            row=Dataset.file_row(first),
            column=column,
        )
    return cells


def note_graph(spec: DatasetSpec, nodes: pd.DataFrame, edges: pd.DataFrame, notes: list[str]) -> None:
    """Count self-loops, repeats and isolated nodes on integer node positions, so an edges file
    of millions of rows costs a few int64 arrays, not millions of Python strings."""
    if edges.empty:
        notes.append("the edges file has no edges: every node is isolated")
        return
    index = pd.Index(nodes[spec.id_column])  # unique, checked before
    src = index.get_indexer(edges["source"]).astype(np.int64)
    dst = index.get_indexer(edges["target"]).astype(np.int64)
    loops = int((src == dst).sum())
    if loops:
        notes.append(f"{loops} edges are self-loops (a node linked to itself)")
    u, v = (src, dst) if spec.edges.directed else (np.minimum(src, dst), np.maximum(src, dst))
    dups = int(u.size - np.unique(u * len(index) + v).size)
    if dups:
        notes.append(f"{dups} edges repeat an earlier edge")
    linked = np.zeros(len(index), dtype=bool)
    linked[src] = True
    linked[dst] = True
    isolated = int((~linked).sum())
    if isolated:
        notes.append(
            f"{isolated} of {len(nodes)} nodes have no edges: they are classified from their own features only"
        )
