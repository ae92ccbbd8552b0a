"""The link-prediction part of the graph: message passing over training edges only, and the
positives and fixed negatives each split is scored on (stored with the graph, a DVC output).

Tensors added to the graph:
    - ``edge_index``: training edges only (both directions when undirected); val and test edges
      never reach message passing;
    - ``lp_<split>_pos``: :math:`(2, Q)` positive pairs of each split, one column per pair;
    - ``lp_val_neg``, ``lp_test_neg``: :math:`(Q, K)` corrupted targets per positive.
"""

from __future__ import annotations

import torch
from torch import Tensor

from pipeline.dataset import SPLITS, LoadedDataset
from pipeline.graph import EdgeReport, build_edge_index
from pipeline.tasks.link.negatives import eval_negatives
from pipeline.tasks.link.split import EDGE_SPLIT

EVAL_SPLITS = ("val", "test")


def unique_pairs(edge_index: Tensor, *, directed: bool) -> Tensor:
    """One column per pair: an undirected graph's ``(u, v)`` with ``u < v``."""
    if directed:
        return edge_index
    return edge_index[:, edge_index[0] < edge_index[1]]


def link_graph_tensors(
    dataset: LoadedDataset, *, eval_negatives_per_positive: int, seed: int
) -> tuple[Tensor, EdgeReport, dict[str, Tensor], list[str]]:
    """(message-passing edge_index, its report, the ``lp_*`` tensors, notes)."""
    directed = dataset.spec.edges.directed
    if EDGE_SPLIT not in dataset.edges.columns:
        raise ValueError("the processed dataset has no edge split: rerun the validate stage")
    split = dataset.edges[EDGE_SPLIT]
    per_split: dict[str, Tensor] = {}
    report = None
    for name in SPLITS:
        chosen = dataset.edges[(split == name).fillna(False).to_numpy(dtype=bool)]
        edge_index, edge_report = build_edge_index(chosen, dataset.ids, directed=directed)
        per_split[name] = edge_index
        if name == "train":
            message_passing, report = edge_index, edge_report
    assert report is not None
    tensors = {f"lp_{name}_pos": unique_pairs(per_split[name], directed=directed) for name in SPLITS}
    everything = torch.cat([per_split[name] for name in SPLITS], dim=1)
    notes = [
        f"link prediction: {tensors['lp_train_pos'].size(1)} train / {tensors['lp_val_pos'].size(1)} val / "
        f"{tensors['lp_test_pos'].size(1)} test pairs; message passing uses the train pairs only"
    ]
    for offset, name in enumerate(EVAL_SPLITS):
        negatives, more = eval_negatives(
            tensors[f"lp_{name}_pos"],
            everything,
            len(dataset.ids),
            eval_negatives_per_positive,
            directed=directed,
            seed=seed + offset,
        )
        tensors[f"lp_{name}_neg"] = negatives
        notes.extend(more)
    return message_passing, report, tensors, notes
