"""One candidate trained on each fold: its probabilities for every node, fold by fold."""

from __future__ import annotations

import copy
from collections.abc import Callable

import torch
from torch import Tensor
from torch_geometric.data import Data

from pipeline.models import FusionModelConfig, build_model
from pipeline.search.folds import Fold
from pipeline.training import TrainOptions, predict_logits, seed_everything, train_node_classifier

EpochCallback = Callable[[int, dict[str, float]], None]


def fold_view(data: Data, fold: Fold) -> Data:
    """``data`` with the fold's training and scoring nodes as its train and val masks."""
    view = copy.copy(data)
    view.train_mask, view.val_mask = fold.train_mask, fold.score_mask
    return view


def cross_fit(
    config: FusionModelConfig,
    data: Data,
    folds: list[Fold],
    options: TrainOptions,
    *,
    device: torch.device,
    on_epoch: EpochCallback | None = None,
) -> Tensor:
    """``[F, N, C]``: fold ``f``'s model (trained on its train nodes, stopped early on its scored
    nodes, seeded by ``options.seed``) gives every node's class probabilities. ``on_epoch`` sees
    the first fold's curve (what the pruner judges; it may raise to stop the candidate)."""
    out = []
    for index, fold in enumerate(folds):
        view = fold_view(data, fold)
        seed_everything(options.seed)
        model = build_model(config)
        result = train_node_classifier(
            model,
            view,
            num_classes=config.num_classes,
            device=device,
            options=options,
            on_epoch=on_epoch if index == 0 else None,
        )
        model.load_state_dict(result.state_dict)
        out.append(torch.softmax(predict_logits(model, view, device), dim=-1))
    return torch.stack(out)
