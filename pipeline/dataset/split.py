"""Train/val/test assignment: the user's split column if given, else a seeded stratified split.

Stratifying per class keeps every class in every split, so validation and test metrics
(macro F1 in particular) are defined for all classes even on small datasets.
"""

from __future__ import annotations

import dataclasses

import numpy as np
import pandas as pd

from pipeline.dataset.dataset import STRING_DTYPE, LoadedDataset
from pipeline.errors import DatasetError

SPLITS = ("train", "val", "test")


def assign_splits(dataset: LoadedDataset, *, seed: int, val_fraction: float, test_fraction: float) -> pd.Series:
    """Split aligned with ``dataset.nodes``: "train"/"val"/"test", or NA for unused nodes.

    Unlabelled nodes are always NA: they cannot be trained or scored on.
    """
    if not (0 < val_fraction < 1 and 0 < test_fraction < 1 and val_fraction + test_fraction < 1):
        raise ValueError(
            "val_fraction and test_fraction must be in (0, 1) with a sum below 1, got "
            f"{val_fraction} and {test_fraction}"
        )
    if dataset.spec.split_column:
        return _split_from_column(dataset)
    return _stratified_split(dataset, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)


def with_splits(dataset: LoadedDataset, *, seed: int, val_fraction: float, test_fraction: float) -> LoadedDataset:
    """A copy of ``dataset`` with ``split`` set by :func:`assign_splits`."""
    split = assign_splits(dataset, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction)
    return dataclasses.replace(dataset, split=split)


def _empty_split(dataset: LoadedDataset) -> np.ndarray:
    return np.full(len(dataset.nodes), None, dtype=object)


def _as_series(values: np.ndarray, dataset: LoadedDataset) -> pd.Series:
    return pd.Series(values, index=dataset.nodes.index, dtype=STRING_DTYPE, name="split")


def _split_from_column(dataset: LoadedDataset) -> pd.Series:
    column = dataset.spec.split_column
    assert column is not None
    cells = dataset.nodes[column]
    labelled = dataset.labelled.to_numpy()
    out = _empty_split(dataset)
    for position, cell in enumerate(cells.tolist()):
        if cell is pd.NA:
            continue
        value = str(cell).strip().lower()
        if value not in SPLITS:
            raise DatasetError(
                dataset.nodes_file,
                f"split value '{cell}' is not one of train, val, test "
                "(case does not matter; leave the cell empty to leave the node out)",
                row=LoadedDataset.file_row(position),
                column=column,
            )
        if labelled[position]:
            out[position] = value
    for name in SPLITS:
        if not (out == name).any():
            raise DatasetError(
                dataset.nodes_file,
                f"no labelled node is in the '{name}' split: train, val and test each need at least one labelled node",
                column=column,
            )
    return _as_series(out, dataset)


def _stratified_split(dataset: LoadedDataset, *, seed: int, val_fraction: float, test_fraction: float) -> pd.Series:
    rng = np.random.default_rng(seed)
    labels = dataset.labels
    label_values = labels.to_numpy(dtype=object, na_value=None)
    out = _empty_split(dataset)
    for cls in dataset.classes:  # sorted, so the draws do not depend on file order of classes
        positions = np.flatnonzero(label_values == cls)  # file order
        n = positions.size
        n_val = max(1, round(n * val_fraction))
        n_test = max(1, round(n * test_fraction))
        if n - n_val - n_test < 1:
            raise _too_small(dataset, cls, positions, val_fraction, test_fraction)
        shuffled = rng.permutation(positions)
        out[shuffled[:n_val]] = "val"
        out[shuffled[n_val : n_val + n_test]] = "test"
        out[shuffled[n_val + n_test :]] = "train"
    return _as_series(out, dataset)


def _too_small(
    dataset: LoadedDataset,
    cls: str,
    positions: np.ndarray,
    val_fraction: float,
    test_fraction: float,
) -> DatasetError:
    n = positions.size
    rows = [LoadedDataset.file_row(int(p)) for p in positions]
    shown = ", ".join(str(r) for r in rows[:10]) + (", ..." if len(rows) > 10 else "")
    where = f"row {shown}" if n == 1 else f"rows {shown}"
    noun = "node" if n == 1 else "nodes"
    if n < len(SPLITS):
        why = "at least 3 are needed (one each for train, val and test)"
    else:
        why = (
            f"with val_fraction={val_fraction} and test_fraction={test_fraction} no node is "
            "left for train; lower the fractions or add nodes"
        )
    return DatasetError(
        dataset.nodes_file,
        f"class '{cls}' has only {n} labelled {noun} ({where}): {why}",
        column=dataset.spec.label_column,
    )
