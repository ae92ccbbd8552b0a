"""The edge split of a link-prediction dataset: which edges train, validate and test.

An edge is split as a *pair*: an undirected pair written twice (a-b and b-a) lands in one split,
so a test pair can never reach message passing through its twin. Two modes:

- ``random``: pairs shuffled with a seed, ``val_fraction`` and ``test_fraction`` of them held out
  (transductive: every node is seen in training, some of its links are not);
- ``inductive``: ``val_fraction`` and ``test_fraction`` of the linked nodes are held out; every
  edge touching a held-out test node is a test edge (val likewise), so test edges touch nodes no
  training edge touches and the model scores them from their own features.

A user's ``edges.split_column`` overrides both. Nodes get a split too (train unless every edge
they have is held out), so the tabular statistics are fitted on training nodes only.
"""

from __future__ import annotations

import dataclasses
from typing import Literal

import numpy as np
import pandas as pd

from pipeline.dataset import SPLITS, LoadedDataset
from pipeline.dataset.dataset import STRING_DTYPE
from pipeline.errors import DatasetError

EdgeSplitMode = Literal["random", "inductive"]
EDGE_SPLIT = "split"  # column of the edges frame (as pipeline.dataset.load names it)


def pair_keys(dataset: LoadedDataset) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(source position, target position, pair key) per edges row; undirected pairs share a key."""
    index = pd.Index(dataset.ids)
    src = index.get_indexer(dataset.edges["source"]).astype(np.int64)
    dst = index.get_indexer(dataset.edges["target"]).astype(np.int64)
    u, v = (src, dst) if dataset.spec.edges.directed else (np.minimum(src, dst), np.maximum(src, dst))
    return src, dst, u * len(index) + v


def split_edges(
    dataset: LoadedDataset, *, seed: int, val_fraction: float, test_fraction: float, mode: EdgeSplitMode = "random"
) -> tuple[pd.Series, pd.Series]:
    """(edge split aligned with ``dataset.edges``, node split aligned with ``dataset.nodes``).

    Self-loops get no split (NA): they say nothing about which nodes link.
    """
    src, dst, keys = pair_keys(dataset)
    loop = src == dst
    if dataset.spec.edges.split_column:
        edge_split = _from_column(dataset, keys, loop)
    elif mode == "random":
        edge_split = _random(keys, loop, np.random.default_rng(seed), val_fraction, test_fraction)
    elif mode == "inductive":
        edge_split = _inductive(
            src, dst, loop, len(dataset.ids), np.random.default_rng(seed), val_fraction, test_fraction
        )
    else:
        raise ValueError(f"edge split mode must be random or inductive, not {mode!r}")
    for name in SPLITS:
        if not (edge_split == name).any():
            raise DatasetError(
                dataset.edges_file,
                f"no edge is in the '{name}' split: link prediction needs train, val and test edges "
                f"({int((~loop).sum())} usable edges; add edges or change the fractions)",
                column=dataset.spec.edges.split_column,
            )
    node_split = _node_split(src, dst, edge_split, len(dataset.ids))
    return (
        pd.Series(edge_split, index=dataset.edges.index, dtype=STRING_DTYPE, name=EDGE_SPLIT),
        pd.Series(node_split, index=dataset.nodes.index, dtype=STRING_DTYPE, name="split"),
    )


def with_edge_splits(
    dataset: LoadedDataset, *, seed: int, val_fraction: float, test_fraction: float, mode: EdgeSplitMode = "random"
) -> LoadedDataset:
    """A copy of ``dataset`` whose edges carry ``split`` and whose nodes carry the node split."""
    edge_split, node_split = split_edges(
        dataset, seed=seed, val_fraction=val_fraction, test_fraction=test_fraction, mode=mode
    )
    edges = dataset.edges.copy()
    edges[EDGE_SPLIT] = edge_split
    return dataclasses.replace(dataset, edges=edges, split=node_split)


def _from_column(dataset: LoadedDataset, keys: np.ndarray, loop: np.ndarray) -> np.ndarray:
    given = dataset.edges[EDGE_SPLIT].to_numpy(dtype=object, na_value=None)
    frame = pd.DataFrame({"key": keys[~loop], "split": given[~loop]})
    conflicting = frame.groupby("key")["split"].nunique()
    if (conflicting > 1).any():
        key = int(conflicting.index[np.flatnonzero(conflicting.to_numpy() > 1)[0]])
        rows = [LoadedDataset.file_row(int(p)) for p in np.flatnonzero((keys == key) & ~loop)]
        raise DatasetError(
            dataset.edges_file,
            f"rows {', '.join(map(str, rows))} are the same node pair in different splits: "
            "a held-out pair must not also be a training edge",
            row=rows[-1],
            column=dataset.spec.edges.split_column,
        )
    out = np.array(given, dtype=object)
    out[loop] = None
    return out


def _random(keys: np.ndarray, loop: np.ndarray, rng, val_fraction: float, test_fraction: float) -> np.ndarray:
    unique = np.unique(keys[~loop])  # sorted: the draw does not depend on file order
    n = unique.size
    n_val, n_test = max(1, round(n * val_fraction)), max(1, round(n * test_fraction))
    order = rng.permutation(n)
    assigned = np.full(n, "train", dtype=object)
    assigned[order[:n_val]] = "val"
    assigned[order[n_val : n_val + n_test]] = "test"
    if n - n_val - n_test < 1:
        assigned[:] = None  # reported by the caller: no train edge
    out = np.full(keys.size, None, dtype=object)
    out[~loop] = assigned[np.searchsorted(unique, keys[~loop])]
    return out


def _inductive(
    src: np.ndarray, dst: np.ndarray, loop: np.ndarray, num_nodes: int, rng, val_fraction: float, test_fraction: float
) -> np.ndarray:
    linked = np.unique(np.concatenate([src[~loop], dst[~loop]]))
    n = linked.size
    n_val, n_test = max(1, round(n * val_fraction)), max(1, round(n * test_fraction))
    held = rng.permutation(linked)
    role = np.zeros(num_nodes, dtype=np.int8)  # 0 train, 1 val, 2 test
    role[held[:n_val]] = 1
    role[held[n_val : n_val + n_test]] = 2
    worst = np.maximum(role[src], role[dst])
    out = np.array(["train", "val", "test"], dtype=object)[worst]
    out[loop] = None
    return out


def _node_split(src: np.ndarray, dst: np.ndarray, edge_split: np.ndarray, num_nodes: int) -> np.ndarray:
    """Train for nodes with a training edge or none at all; else test if a test edge touches them, else val."""
    rank = {"train": 0, "val": 1, "test": 2}
    has = {name: np.zeros(num_nodes, dtype=bool) for name in rank}
    for name in rank:
        chosen = edge_split == name
        has[name][src[chosen]] = True
        has[name][dst[chosen]] = True
    out = np.full(num_nodes, "train", dtype=object)
    out[~has["train"] & has["val"]] = "val"
    out[~has["train"] & has["test"]] = "test"
    return out
