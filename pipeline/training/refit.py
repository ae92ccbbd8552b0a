"""The chosen ensemble trained on the pipeline's own split: each member with its own settings.

The train stage registers this; the spread over seeds (evaluate) calls it again per seed, so the
spread covers every member's training, not the search (which runs once per ``dvc repro``).
"""

from __future__ import annotations

from collections.abc import Callable

import torch
from torch_geometric.data import Data

from pipeline.models import FusionModelConfig, build_model, smoothing_of
from pipeline.models.ensemble import WeightedEnsemble
from pipeline.training import TrainResult, options_from, seed_everything, train_node_classifier

EpochCallback = Callable[[int, dict[str, float]], None]


def fit_ensemble(
    config: FusionModelConfig,
    data: Data,
    recipe: object,
    *,
    seed: int,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
) -> tuple[WeightedEnsemble, list[TrainResult]]:
    """Train ``config.members`` on ``data``'s train split (early stopping on val), each seeded with
    ``seed`` and trained with ``recipe`` (params.yaml's train section) plus its own ``recipe``;
    return the ensemble (the config's smoothing on top, eval mode, CPU) and each member's result.
    ``on_epoch`` follows the first (heaviest) member."""
    models, results = [], []
    for index, member in enumerate(config.members):
        seed_everything(seed)
        model = build_model(member.config)
        options = options_from(recipe, seed=seed, checkpoint_every=0, smoothing="off", **member.recipe)
        result = train_node_classifier(
            model,
            data,
            num_classes=config.num_classes,
            device=device,
            options=options,
            on_epoch=on_epoch if index == 0 else None,
        )
        model.load_state_dict(result.state_dict)
        models.append(model)
        results.append(result)
    ensemble = WeightedEnsemble(models, [m.weight for m in config.members])
    if config.smoothing_alpha > 0:
        ensemble.smoothing = smoothing_of(config)
    return ensemble.to("cpu").eval(), results
