"""Variants of a graph for ablations: a modality masked out, or the edges removed."""

from __future__ import annotations

import torch
from torch_geometric.data import Data


def without_modality(data: Data, modality: str) -> Data:
    """Every node lacks ``modality``: zero features, mask False (what the model sees for a missing one)."""
    out = data.clone()
    out[f"x_{modality}"] = torch.zeros_like(data[f"x_{modality}"])
    out[f"mask_{modality}"] = torch.zeros_like(data[f"mask_{modality}"])
    return out


def without_edges(data: Data) -> Data:
    """The same nodes with no edges: each node is predicted from its own features alone."""
    out = data.clone()
    out.edge_index = torch.empty(2, 0, dtype=torch.long)
    return out


def modalities_of(data: Data) -> list[str]:
    return sorted(key[len("x_") :] for key in data.keys() if key.startswith("x_"))
