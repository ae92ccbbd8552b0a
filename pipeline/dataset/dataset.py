"""The validated dataset as the rest of the pipeline sees it: typed frames plus the split."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from pipeline.dataset.spec import DatasetSpec

NODES_CSV = "nodes.csv"
NODES_PARQUET = "nodes.parquet"
IMAGES_DIR = "images"
STRING_DTYPE = "string"

#: Spreadsheet row of the first data row (the header is row 1).
FIRST_DATA_ROW = 2


@dataclass(frozen=True, eq=False, repr=False)
class LoadedDataset:
    """A validated dataset: nodes in file order, edges, and (once assigned) the split.

    Equality compares the frames by value and dtype (a dataclass' generated ``==`` cannot,
    since ``DataFrame == DataFrame`` is element-wise).
    """

    root: Path
    spec: DatasetSpec
    nodes: pd.DataFrame
    edges: pd.DataFrame
    split: pd.Series | None = None
    notes: tuple[str, ...] = ()
    #: Which nodes file the data came from (``nodes.csv`` or ``nodes.parquet``), for messages.
    nodes_file_name: str = field(default=NODES_CSV)

    # -- convenience -------------------------------------------------------------------
    @property
    def ids(self) -> list[str]:
        return self.nodes[self.spec.id_column].tolist()

    @property
    def labels(self) -> pd.Series:
        """Labels aligned with ``nodes``; ``pd.NA`` for unlabelled nodes (all of them when a
        link-prediction dataset names no label column)."""
        if not self.spec.label_column:
            return pd.Series(pd.NA, index=self.nodes.index, dtype=STRING_DTYPE, name="label")
        return self.nodes[self.spec.label_column]

    @property
    def labelled(self) -> pd.Series:
        """Boolean mask of nodes that carry a label."""
        return self.labels.notna()

    @property
    def classes(self) -> list[str]:
        """Distinct labels, sorted, so class indices are stable across runs."""
        return sorted(str(v) for v in self.labels.dropna().unique())

    def label_codes(self) -> np.ndarray:
        """Each node's class index in :attr:`classes` (int64), -1 for an unlabelled node."""
        codes = pd.Categorical(self.labels, categories=self.classes).codes
        return codes.astype(np.int64)

    def in_split(self, name: str) -> np.ndarray:
        """Boolean mask of the nodes in split ``name`` (none before the split is assigned)."""
        if self.split is None:
            return np.zeros(len(self.nodes), dtype=bool)
        return (self.split == name).fillna(False).to_numpy(dtype=bool)

    @property
    def nodes_file(self) -> Path:
        return self.root / self.nodes_file_name

    @property
    def edges_file(self) -> Path:
        return self.root / self.spec.edges.file

    @property
    def images_dir(self) -> Path:
        return self.root / IMAGES_DIR

    def image_path(self, cell: str) -> Path:
        """Absolute path of an image cell (cells are relative to ``images/``)."""
        return self.images_dir / cell

    @staticmethod
    def file_row(position: int) -> int:
        """Spreadsheet row of the node at ``position`` (0-based) in the nodes file."""
        return position + FIRST_DATA_ROW

    # -- dunder ------------------------------------------------------------------------
    def __eq__(self, other: object) -> bool:
        if not isinstance(other, LoadedDataset):
            return NotImplemented
        if (self.split is None) != (other.split is None):
            return False
        return (
            self.root == other.root
            and self.spec == other.spec
            and self.notes == other.notes
            and self.nodes_file_name == other.nodes_file_name
            and _frames_equal(self.nodes, other.nodes)
            and _frames_equal(self.edges, other.edges)
            and (self.split is None or _series_equal(self.split, other.split))
        )

    __hash__ = None  # type: ignore[assignment]  # holds mutable frames

    def __repr__(self) -> str:
        split = "none" if self.split is None else "set"
        return (
            f"LoadedDataset(name={self.spec.name!r}, root={str(self.root)!r}, "
            f"nodes={len(self.nodes)}, edges={len(self.edges)}, "
            f"classes={len(self.classes)}, split={split})"
        )


def _frames_equal(a: pd.DataFrame, b: pd.DataFrame) -> bool:
    return (
        list(a.columns) == list(b.columns)
        and list(a.dtypes) == list(b.dtypes)
        and a.index.equals(b.index)
        and a.equals(b)
    )


def _series_equal(a: pd.Series, b: pd.Series | None) -> bool:
    return b is not None and a.dtype == b.dtype and a.index.equals(b.index) and a.equals(b)


Dataset = LoadedDataset  # the older name; it read as torch's ``Dataset``, which this is not
