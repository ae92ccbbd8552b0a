"""Small seeded graphs for model and training tests (also imported by the torchrun/kill scripts)."""

from __future__ import annotations

import pytest
import torch
from torch_geometric.data import Data

from pipeline.config import TrainParams
from pipeline.features import ModalityFeatures
from pipeline.graph import build_graph
from pipeline.models import FusionModelConfig


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny graphs run fastest on one thread, and other jobs share this machine's two cores.
    Autouse in every module that imports it."""
    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


def two_community_graph(n: int = 60, *, image_missing: float = 0.0, seed: int = 0) -> tuple[Data, torch.Tensor]:
    """Two classes: noisy tabular features, edges mostly within a class, 20% of nodes missing
    the tabular modality; optionally a weakly informative image modality missing at a rate
    (1.0 = no node has it). A model that uses the graph beats one that cannot."""
    g = torch.Generator().manual_seed(seed)
    y = torch.arange(n) % 2
    x = torch.randn(n, 8, generator=g) + 1.5 * y.unsqueeze(1).float()
    mask = torch.rand(n, generator=g) > 0.2
    src, dst = [], []
    for i in range(n):
        for j in torch.randint(0, n, (4,), generator=g).tolist():
            if (y[i] == y[j]) or torch.rand(1, generator=g).item() < 0.1:
                src += [i, j]
                dst += [j, i]
    edge_index = torch.tensor([src, dst])
    split = torch.arange(n) % 5
    masks = {"train": split < 3, "val": split == 3, "test": split == 4}
    feats = {"tabular": ModalityFeatures("tabular", x * mask.unsqueeze(1), mask, "")}
    if image_missing > 0:
        image = torch.randn(n, 6, generator=g) + 0.5 * y.unsqueeze(1).float()
        image_mask = torch.rand(n, generator=g) >= image_missing
        feats["image"] = ModalityFeatures("image", image * image_mask.unsqueeze(1), image_mask, "")
    return build_graph(feats, edge_index, y, masks), y


def tiny_config(data: Data, **overrides) -> FusionModelConfig:
    dims = {key[2:]: int(data[key].size(1)) for key in data.keys() if key.startswith("x_")}
    base = {"projection_dim": 8, "hidden_dim": 16, "dropout": 0.0, "heads": 2}
    return FusionModelConfig(modality_dims=dims, num_classes=2, **(base | overrides))


def tiny_search_params(tmp_path, **overrides) -> TrainParams:
    """``train`` for a search on a tiny graph: small models, a 5-trial budget, a study under ``tmp_path``."""
    values = dict(
        hidden_dim=16,
        projection_dim=8,
        max_epochs=15,
        patience=5,
        device="cpu",
        search="auto",
        search_trials=5,
        search_seconds=120,
        search_folds=3,
        search_top=4,
        search_rounds=5,
        search_storage=str(tmp_path / "studies.db"),
    )
    return TrainParams(**(values | overrides))
