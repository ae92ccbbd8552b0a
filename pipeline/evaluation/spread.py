"""Spread over training seeds: the same split and recipe, several seeds, mean ± sd.

One seed's test score on a small graph can sit several points from another's; reporting the
mean and the standard deviation (sample sd, ddof=1) says how much of a difference is luck.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.config import EvaluateParams, TrainParams
from pipeline.evaluation.metrics import HEADLINE
from pipeline.evaluation.predictions import headline, probabilities, split_metrics
from pipeline.evaluation.retrain import retrain
from pipeline.models import FusionModelConfig

SPREAD_SPLITS = ("val", "test")


def seeds_for(num_nodes: int, settings: EvaluateParams, base_seed: int) -> tuple[list[int], str | None]:
    """``settings.seeds`` consecutive seeds from the train seed; ``seeds_large`` above the node limit."""
    count = settings.seeds
    note = None
    if num_nodes > settings.seeds_node_limit and settings.seeds_large < count:
        note = (
            f"{num_nodes} nodes > evaluate.seeds_node_limit={settings.seeds_node_limit}: "
            f"{settings.seeds_large} seed(s) instead of {count}"
        )
        count = settings.seeds_large
    return [base_seed + k for k in range(count)], note


def summarise(per_seed: list[dict]) -> dict[str, dict[str, dict[str, float | None]]]:
    """``{split: {metric: {mean, sd}}}``; sd is None with a single seed, NaN values are skipped."""
    summary: dict[str, dict[str, dict[str, float | None]]] = {}
    for split in SPREAD_SPLITS:
        summary[split] = {}
        for name in HEADLINE:
            values = np.array([row[split][name] for row in per_seed], dtype=float)
            values = values[~np.isnan(values)]
            mean = float(values.mean()) if values.size else None
            sd = float(values.std(ddof=1)) if values.size > 1 else None
            summary[split][name] = {"mean": mean, "sd": sd}
    return summary


def seed_spread(
    registered: nn.Module,
    config: FusionModelConfig,
    data: Data,
    classes: list[str],
    recipe: TrainParams,
    seeds: list[int],
    device: torch.device,
    on_seed: Callable[[int], None] | None = None,
) -> dict:
    """Metrics per seed and their mean ± sd, and the models (``models``, not for JSON); the registered
    model stands for its own seed (not retrained)."""
    per_seed = []
    models = []
    for seed in seeds:
        model = registered if seed == recipe.seed else retrain(config, data, recipe, seed=seed, device=device).model
        models.append(model)
        metrics = split_metrics(probabilities(model, data, device), data, classes, SPREAD_SPLITS)
        per_seed.append({"seed": seed} | {split: headline(metrics[split]) for split in SPREAD_SPLITS})
        if on_seed is not None:
            on_seed(seed)
    return {"seeds": seeds, "per_seed": per_seed, "summary": summarise(per_seed), "models": models}
