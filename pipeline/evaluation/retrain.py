"""Train a model again from a bundle's architecture with the train stage's recipe.

Spread over seeds and the retrained ablations reuse the same loop (``train_node_classifier``) and
the same architecture (the bundle's saved config), so they measure the recipe people registered.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.config import TrainParams
from pipeline.models import FusionModelConfig, build_model
from pipeline.training import TrainResult, seed_everything, train_node_classifier

#: Below this many nodes + edges a full-batch pass is too small to share between threads.
SMALL_GRAPH = 200_000


@contextmanager
def threads_for(data: Data) -> Iterator[None]:
    """One intra-op thread on small graphs: PyG's scatter on a few hundred rows spends its time
    synchronising threads, and on a busy 2-core machine that made training ~12x slower
    (countries, one seed: 28.5 s with 2 threads, 2.4 s with 1)."""
    before = torch.get_num_threads()
    small = data.num_nodes + data.edge_index.size(1) < SMALL_GRAPH
    torch.set_num_threads(1 if small else before)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@dataclass
class Retrained:
    model: nn.Module
    result: TrainResult


def retrain(
    config: FusionModelConfig, data: Data, recipe: TrainParams, *, seed: int, device: torch.device
) -> Retrained:
    """Seed, build and train as the train stage does; the best epoch's weights are loaded, eval mode."""
    seed_everything(seed)
    model = build_model(config)
    result = train_node_classifier(
        model,
        data,
        num_classes=config.num_classes,
        lr=recipe.lr,
        weight_decay=recipe.weight_decay,
        max_epochs=recipe.max_epochs,
        patience=recipe.patience,
        device=device,
        monitor=recipe.monitor,
    )
    model.load_state_dict(result.state_dict)
    return Retrained(model.to("cpu").eval(), result)
