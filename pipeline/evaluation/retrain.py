"""Train a model again from a bundle's architecture with the train stage's recipe.

Spread over seeds and the retrained ablations reuse the same loop (``train_node_classifier``) and
the same architecture (the bundle's saved config), so they measure the recipe people registered.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass

import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.config import TrainParams
from pipeline.models import FusionModelConfig, build_model
from pipeline.training import TrainResult, options_from, seed_everything, threads_for_data, train_node_classifier


def threads_for(data: Data) -> AbstractContextManager[None]:
    """One intra-op thread on small CPU graphs, as training uses (see ``threads_for_data``)."""
    return threads_for_data(data, torch.device("cpu"))


@dataclass
class Retrained:
    model: nn.Module
    result: TrainResult


def retrain(
    config: FusionModelConfig, data: Data, recipe: TrainParams, *, seed: int, device: torch.device
) -> Retrained:
    """Seed, build and train as the train stage does; the best epoch's weights are loaded, eval mode.
    An ensemble (the search's choice) retrains every member with its own settings and keeps its
    weights and smoothing strength (the search itself does not run again)."""
    if config.members:
        from pipeline.training.refit import fit_ensemble  # not for a plain model's retraining

        ensemble, results = fit_ensemble(config, data, recipe, seed=seed, device=device)
        return Retrained(ensemble, results[0])
    seed_everything(seed)
    model = build_model(config)
    result = train_node_classifier(
        model,
        data,
        num_classes=config.num_classes,
        device=device,
        options=options_from(recipe, seed=seed, checkpoint_every=0),
    )
    model.load_state_dict(result.state_dict)
    model.smoothing = result.smoothing  # chosen on this seed's validation, as the train stage does
    return Retrained(model.to("cpu").eval(), result)
