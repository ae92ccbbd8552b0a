"""Negative pairs: uniform ones drawn afresh each training epoch, and a fixed set for evaluation.

Evaluation follows the OGB ``ogbl-citation2`` protocol: each held-out positive pair ``(u, v)`` is
ranked against ``K`` corrupted pairs ``(u, v'_k)``, ``v'_k`` drawn uniformly from the nodes that are
not ``u`` and not linked to ``u`` by any known edge (train, val or test: the *filtered* setting).
The candidates are drawn once, seeded, and stored with the graph, so every model (and the
no-graph baseline) is scored on exactly the same candidates.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import Tensor
from torch_geometric.utils import negative_sampling

#: Above this many nodes, candidates are drawn with replacement by rejection (memory stays O(K)).
EXACT_DRAW_LIMIT = 50_000


def eval_negatives(
    positives: Tensor, known: Tensor, num_nodes: int, k: int, *, directed: bool, seed: int
) -> tuple[Tensor, list[str]]:
    """``(Q, K)`` corrupted targets for the ``(2, Q)`` positives; ``known`` holds every true pair.

    ``K`` is lowered (with a note) when some source has fewer than ``k`` nodes it is not linked to.
    """
    rng = np.random.default_rng(seed)
    src = known[0].numpy().astype(np.int64)
    dst = known[1].numpy().astype(np.int64)
    if not directed:
        src, dst = np.concatenate([src, dst]), np.concatenate([dst, src])
    known_keys = np.unique(src * num_nodes + dst)
    queries = positives[0].numpy().astype(np.int64)
    notes: list[str] = []
    if queries.size == 0:
        return torch.empty((0, k), dtype=torch.long), notes
    if num_nodes <= EXACT_DRAW_LIMIT:
        neighbours = _neighbour_lists(src, dst, num_nodes)
        fewest = min(num_nodes - 1 - len(neighbours[q]) for q in queries)
        if fewest < k:
            notes.append(f"eval_negatives lowered from {k} to {fewest}: a source is linked to all but {fewest} nodes")
            k = max(fewest, 0)
        out = np.empty((queries.size, k), dtype=np.int64)
        everything = np.arange(num_nodes)
        for row, q in enumerate(queries):
            allowed = np.ones(num_nodes, dtype=bool)
            allowed[q] = False
            allowed[neighbours[q]] = False
            out[row] = rng.choice(everything[allowed], size=k, replace=False)
        return torch.from_numpy(out), notes
    out = np.empty((queries.size, k), dtype=np.int64)
    todo = np.arange(queries.size)
    while todo.size:
        draw = rng.integers(0, num_nodes, size=(todo.size, 4 * k))
        ok = (draw != queries[todo, None]) & ~np.isin(queries[todo, None] * num_nodes + draw, known_keys)
        full = ok.sum(axis=1) >= k
        for row in np.flatnonzero(full):
            out[todo[row]] = draw[row][ok[row]][:k]
        todo = todo[~full]
    return torch.from_numpy(out), notes


def _neighbour_lists(src: np.ndarray, dst: np.ndarray, num_nodes: int) -> list[np.ndarray]:
    order = np.argsort(src, kind="stable")
    bounds = np.searchsorted(src[order], np.arange(num_nodes + 1))
    targets = dst[order]
    return [np.unique(targets[bounds[i] : bounds[i + 1]]) for i in range(num_nodes)]


def train_negatives(train_edges: Tensor, train_nodes: Tensor, count: int, *, seed: int) -> Tensor:
    """``(2, count)`` uniform pairs among ``train_nodes`` that are not training edges (PyG's sampler).

    ``train_edges`` is the message-passing graph (both directions of an undirected pair), so
    neither orientation of a training edge is drawn. Only training nodes are drawn, so in an
    inductive split the held-out nodes are never taught to be unlinked.
    """
    torch.manual_seed(seed)
    local = torch.full((int(train_nodes.max()) + 1 if train_nodes.numel() else 1,), -1, dtype=torch.long)
    local[train_nodes] = torch.arange(train_nodes.numel())
    sampled = negative_sampling(local[train_edges], num_nodes=train_nodes.numel(), num_neg_samples=count)
    return train_nodes[sampled]
