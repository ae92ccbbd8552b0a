"""Graph statistics for DVC metrics: size, edges by source, isolated nodes, degrees, homophily.

Label homophily uses train nodes only (an edge counts when both its ends are train nodes), so
the number can steer choices such as kNN on/off without peeking at validation or test labels.
"""

from __future__ import annotations

import numpy as np
import torch

from pipeline.graph.knn import EDGE_SOURCES

DEGREE_QUANTILES = {"min": 0.0, "p25": 0.25, "median": 0.5, "p75": 0.75, "p90": 0.9, "p99": 0.99, "max": 1.0}


def _isolated(edge_index: torch.Tensor, num_nodes: int) -> int:
    touched = torch.zeros(num_nodes, dtype=torch.bool)
    touched[edge_index.reshape(-1)] = True
    return int((~touched).sum())


def _homophily(edge_index: torch.Tensor, y: torch.Tensor, train: torch.Tensor) -> tuple[float | None, int]:
    """Share of train-train edges whose ends share a label; None when there is no such edge."""
    src, dst = edge_index
    both = train[src] & train[dst]
    n = int(both.sum())
    if n == 0:
        return None, 0
    return round(float((y[src[both]] == y[dst[both]]).float().mean()), 4), n


def graph_stats(edge_index: torch.Tensor, edge_type: torch.Tensor, y: torch.Tensor, train_mask: torch.Tensor) -> dict:
    """Statistics of ``edge_index`` (each direction of an undirected edge counts as one column).

    ``edge_type`` tags each column with its source (see ``EDGE_SOURCES``). Per source and for all
    edges: columns, nodes left isolated, and train-only homophily; degrees are in-degrees over all.
    """
    num_nodes = int(y.numel())
    by_source = {name: edge_index[:, edge_type == code] for code, name in enumerate(EDGE_SOURCES)}
    by_source["all"] = edge_index
    degree = torch.bincount(edge_index[1], minlength=num_nodes).double().numpy()
    quantiles = (
        {name: round(float(np.quantile(degree, q)), 2) for name, q in DEGREE_QUANTILES.items()} if num_nodes else {}
    )
    stats: dict = {
        "nodes": num_nodes,
        "train_nodes": int(train_mask.sum()),
        "edges": {name: int(e.size(1)) for name, e in by_source.items()},
        "isolated_nodes": {name: _isolated(e, num_nodes) for name, e in by_source.items()},
        "degree": {"mean": round(float(degree.mean()), 3) if num_nodes else 0.0, **quantiles},
        "homophily_train": {},
        "train_edges": {},
    }
    for name, e in by_source.items():
        stats["homophily_train"][name], stats["train_edges"][name] = _homophily(e, y, train_mask)
    return stats
