"""Edges from the dataset's edge list, and the PyG ``Data`` object the models train on."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import pandas as pd
import torch
from torch_geometric.data import Data
from torch_geometric.utils import coalesce, to_undirected

from pipeline.features import ModalityFeatures


@dataclass(frozen=True)
class EdgeReport:
    """What happened to the user's edges: nothing is dropped without being counted here."""

    given: int
    self_loops_dropped: int
    duplicates_merged: int
    directed: bool
    final: int

    def notes(self) -> list[str]:
        out = []
        if self.self_loops_dropped:
            out.append(f"{self.self_loops_dropped} self-loop edge(s) dropped: a node is its own root in GraphSAGE")
        if self.duplicates_merged:
            out.append(f"{self.duplicates_merged} duplicate edge(s) merged into one")
        return out


def build_edge_index(edges: pd.DataFrame, ids: Sequence[str], *, directed: bool) -> tuple[torch.Tensor, EdgeReport]:
    """Map ``source``/``target`` ids to positions; undirected edges get both directions.

    Ids are assumed validated (every endpoint is a known node).
    """
    position = pd.Index(list(ids))  # vectorised lookup: millions of edges in seconds
    src = torch.from_numpy(position.get_indexer(edges["source"]).astype("int64"))
    dst = torch.from_numpy(position.get_indexer(edges["target"]).astype("int64"))
    given = int(src.numel())
    keep = src != dst
    loops = given - int(keep.sum())
    edge_index = torch.stack([src[keep], dst[keep]])
    n = len(ids)
    if directed:
        unique_pairs = coalesce(edge_index, num_nodes=n)
        duplicates = edge_index.size(1) - unique_pairs.size(1)
        final = unique_pairs
    else:
        # An undirected pair counts once however it is written (a-b, b-a, a-b again).
        canonical = torch.stack([edge_index.min(0).values, edge_index.max(0).values])
        unique_pairs = coalesce(canonical, num_nodes=n)
        duplicates = edge_index.size(1) - unique_pairs.size(1)
        final = to_undirected(unique_pairs, num_nodes=n)
    report = EdgeReport(
        given=given,
        self_loops_dropped=loops,
        duplicates_merged=duplicates,
        directed=directed,
        final=int(final.size(1)),
    )
    return final, report


def build_graph(
    features: Mapping[str, ModalityFeatures],
    edge_index: torch.Tensor,
    y: torch.Tensor,
    split_masks: Mapping[str, torch.Tensor],
) -> Data:
    """One ``Data`` with ``x_<modality>``/``mask_<modality>`` per modality, ``y`` (-1 = unlabelled)
    and ``train_mask``/``val_mask``/``test_mask``."""
    n = int(y.numel())
    data = Data(edge_index=edge_index, y=y, num_nodes=n)
    for modality, feats in features.items():
        if feats.x.shape[0] != n:
            raise ValueError(f"{modality} features have {feats.x.shape[0]} rows for {n} nodes")
        data[f"x_{modality}"] = feats.x
        data[f"mask_{modality}"] = feats.mask
    for split, mask in split_masks.items():
        data[f"{split}_mask"] = mask
    return data
