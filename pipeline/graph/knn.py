"""kNN edges from node embeddings: exact cosine search with faiss, mutual-kNN, a per-node cap.

Sparse graphs leave many nodes with no neighbour to learn from; linking each node to the nodes
whose embeddings are most alike gives message passing something to pass. Search is exact
(``faiss.knn`` with inner product on L2-normalised rows, no index copy); only nodes that have
the chosen modality take part, so a missing text never looks "similar" to another missing text.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np
import torch
from torch_geometric.utils import coalesce

from pipeline.features import ModalityFeatures

#: ``edge_type`` values stored with the graph: where an edge came from.
EDGE_SOURCES = ("dataset", "knn")
DATASET_EDGE, KNN_EDGE = 0, 1
FUSED = "fused"


@dataclass(frozen=True)
class KnnReport:
    """What the kNN step did, for the graph's notes and metrics."""

    modality: str
    k: int
    mutual: bool
    cap: int | None
    nodes_searched: int
    pairs: int  # undirected kNN pairs kept after mutual/cap
    added: int  # of those, the ones not already dataset edges


def normalised_rows(x: np.ndarray) -> np.ndarray:
    """float32 rows of unit L2 norm (zero rows stay zero), C-contiguous for faiss."""
    x = np.ascontiguousarray(x, dtype=np.float32)
    norms = np.linalg.norm(x, axis=1, keepdims=True)
    return np.divide(x, norms, out=np.zeros_like(x), where=norms > 0)


def fused_rows(features: Mapping[str, ModalityFeatures]) -> tuple[np.ndarray, np.ndarray]:
    """Concatenation of each modality's normalised rows, normalised again; and who has any modality.

    Normalising per modality first keeps a 1280-d image from outweighing a 384-d text.
    """
    parts = [normalised_rows(f.x.numpy()) * f.mask.numpy()[:, None] for f in features.values()]
    present = np.logical_or.reduce([f.mask.numpy() for f in features.values()])
    return normalised_rows(np.concatenate(parts, axis=1)), present


def knn_search(x: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Each row's ``k`` most cosine-similar other rows: (similarity [n, k], index [n, k]).

    Searches ``k + 1`` and drops the row itself wherever it appears (identical rows may outrank it).
    """
    x = normalised_rows(x)
    n = x.shape[0]
    k_eff = min(k, n - 1)
    if k_eff <= 0:
        return np.empty((n, 0), np.float32), np.empty((n, 0), np.int64)
    import faiss  # here: only a graph with kNN edges pays for loading it

    sim, idx = faiss.knn(x, x, k_eff + 1, metric=faiss.METRIC_INNER_PRODUCT)
    not_self = idx != np.arange(n)[:, None]
    # Keep the first k_eff non-self hits per row (a row has k_eff or k_eff + 1 of them).
    order = np.argsort(~not_self, axis=1, kind="stable")[:, :k_eff]
    return np.take_along_axis(sim, order, axis=1), np.take_along_axis(idx, order, axis=1).astype(np.int64)


def knn_pairs(x: np.ndarray, k: int, *, mutual: bool = False, cap: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """Undirected kNN edges among the rows of ``x``: (pairs [m, 2] with u < v, similarity [m]).

    ``mutual`` keeps a pair only when each is among the other's ``k``; ``cap`` keeps an edge only
    when it is among the ``cap`` most similar kNN edges of both its endpoints, so a hub that is
    everyone's neighbour cannot collect hundreds of edges.
    """
    n = x.shape[0]
    sim, idx = knn_search(x, k)
    src = np.repeat(np.arange(n, dtype=np.int64), idx.shape[1])
    dst, weight = idx.ravel(), sim.ravel()
    valid = dst >= 0
    src, dst, weight = src[valid], dst[valid], weight[valid]
    u, v = np.minimum(src, dst), np.maximum(src, dst)
    key = u * n + v
    unique, first, counts = np.unique(key, return_index=True, return_counts=True)
    if mutual:
        keep = counts == 2  # found from both ends
        unique, first = unique[keep], first[keep]
    pairs = np.stack([unique // n, unique % n], axis=1)
    weight = weight[first]
    if cap is not None and pairs.size:
        keep = _top_at_both_ends(pairs, weight, n, cap)
        pairs, weight = pairs[keep], weight[keep]
    return pairs, weight


def _top_at_both_ends(pairs: np.ndarray, weight: np.ndarray, n: int, cap: int) -> np.ndarray:
    """Mask of edges that rank below ``cap`` by similarity at both endpoints."""
    m = pairs.shape[0]
    ends = np.concatenate([pairs[:, 0], pairs[:, 1]])
    order = np.lexsort((-np.concatenate([weight, weight]), ends))  # by node, most similar first
    sorted_ends = ends[order]
    starts = np.searchsorted(sorted_ends, sorted_ends, side="left")
    rank = np.empty(2 * m, dtype=np.int64)
    rank[order] = np.arange(2 * m) - starts
    worst = np.maximum(rank[:m], rank[m:])
    return worst < cap


def knn_source(features: Mapping[str, ModalityFeatures], modality: str) -> tuple[np.ndarray, np.ndarray]:
    """(rows to search, which nodes take part) for one modality or ``fused``."""
    if modality == FUSED:
        return fused_rows(features)
    feats = features[modality]
    return feats.x.numpy(), feats.mask.numpy().astype(bool)


def add_knn_edges(
    edge_index: torch.Tensor,
    features: Mapping[str, ModalityFeatures],
    num_nodes: int,
    *,
    modality: str,
    k: int,
    mutual: bool = False,
    cap: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, KnnReport]:
    """The dataset's edges plus kNN edges (both directions), and ``edge_type`` (0 dataset, 1 kNN).

    A kNN pair that is already a dataset edge is not added again: it keeps type 0.
    """
    x, present = knn_source(features, modality)
    nodes = np.flatnonzero(present)
    pairs, _ = knn_pairs(x[nodes], k, mutual=mutual, cap=cap)
    pairs = nodes[pairs] if pairs.size else np.empty((0, 2), np.int64)
    both = np.concatenate([pairs, pairs[:, ::-1]]).T
    known = edge_index[0].numpy() * num_nodes + edge_index[1].numpy()
    new = ~np.isin(both[0] * num_nodes + both[1], known)
    knn = coalesce(torch.from_numpy(np.ascontiguousarray(both[:, new])).long(), num_nodes=num_nodes)
    combined = torch.cat([edge_index, knn], dim=1)
    edge_type = torch.cat(
        [
            torch.full((edge_index.size(1),), DATASET_EDGE, dtype=torch.long),
            torch.full((knn.size(1),), KNN_EDGE, dtype=torch.long),
        ]
    )
    report = KnnReport(modality, k, mutual, cap, int(nodes.size), int(pairs.shape[0]), int(knn.size(1)) // 2)
    return combined, edge_type, report


def dataset_and_knn_edges(
    edge_index: torch.Tensor,
    features: Mapping[str, ModalityFeatures],
    num_nodes: int,
    *,
    enabled: bool,
    modality: str,
    k: int,
    mutual: bool = False,
    cap: int | None = None,
) -> tuple[torch.Tensor, torch.Tensor, KnnReport | None, list[str]]:
    """``add_knn_edges`` when enabled (falling back to ``fused`` when the modality is absent), else
    the dataset's edges tagged 0; plus notes saying what was done."""
    if not enabled:
        return edge_index, torch.full((edge_index.size(1),), DATASET_EDGE, dtype=torch.long), None, []
    notes = []
    features = {m: f for m, f in features.items() if bool(f.mask.any())}
    if not features:
        return edge_index, torch.full((edge_index.size(1),), DATASET_EDGE, dtype=torch.long), None, []
    if modality != FUSED and modality not in features:
        notes.append(f"kNN edges: this dataset has no {modality} features; using the fused embeddings instead")
        modality = FUSED
    combined, edge_type, report = add_knn_edges(
        edge_index, features, num_nodes, modality=modality, k=k, mutual=mutual, cap=cap
    )
    notes.append(
        f"kNN edges: {report.added} added from {modality} embeddings (k={k}, mutual={mutual}, cap={cap}) "
        f"over {report.nodes_searched} nodes; {report.pairs - report.added} were already dataset edges"
    )
    return combined, edge_type, report, notes
