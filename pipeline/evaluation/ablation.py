"""Which modality mattered, and how much the graph did: test metrics with each input taken away.

Masking at inference asks "what does this model lose without X"; it punishes a model that never
saw X missing, so ``retrained`` (optional) trains a model without X as the honest comparison.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.config import TrainParams
from pipeline.evaluation.inputs import modalities_of, without_edges, without_modality
from pipeline.evaluation.predictions import headline, probabilities, split_metrics
from pipeline.evaluation.retrain import retrain
from pipeline.models import FusionModelConfig

ABLATION_SPLIT = "test"
FULL = "full"
NO_GRAPH = "no_graph"


def _row(model: nn.Module, data: Data, classes: list[str], device: torch.device) -> dict[str, float]:
    return headline(split_metrics(probabilities(model, data, device), data, classes, (ABLATION_SPLIT,))[ABLATION_SPLIT])


def _with_deltas(rows: dict[str, dict[str, float]]) -> dict[str, dict[str, float]]:
    """Each condition also gets its change against ``full`` (negative: the model lost that much)."""
    full = rows[FULL]
    for name, row in rows.items():
        if name != FULL:
            row["delta_accuracy"] = row["accuracy"] - full["accuracy"]
            row["delta_macro_f1"] = row["macro_f1"] - full["macro_f1"]
    return rows


def inference_ablation(model: nn.Module, data: Data, classes: list[str], device: torch.device) -> dict:
    """Test metrics of the trained model: as is, each modality masked for every node, no edges."""
    rows = {FULL: _row(model, data, classes, device)}
    for modality in modalities_of(data):
        rows[f"no_{modality}"] = _row(model, without_modality(data, modality), classes, device)
    rows[NO_GRAPH] = _row(model, without_edges(data), classes, device)
    return _with_deltas(rows)


def retrained_ablation(
    config: FusionModelConfig,
    data: Data,
    classes: list[str],
    recipe: TrainParams,
    device: torch.device,
    full_model: nn.Module,
    on_condition: Callable[[str], None] | None = None,
) -> dict:
    """A model trained (train seed, same recipe) without each modality and one without edges."""
    rows = {FULL: _row(full_model, data, classes, device)}
    dims = dict(config.modality_dims)
    for modality in modalities_of(data):
        if len(dims) == 1:
            break  # nothing left to learn from
        reduced = config.model_copy(update={"modality_dims": {m: d for m, d in dims.items() if m != modality}})
        rows[f"no_{modality}"] = _row(
            retrain(reduced, data, recipe, seed=recipe.seed, device=device).model, data, classes, device
        )
        if on_condition:
            on_condition(f"no_{modality}")
    graphless = without_edges(data)
    rows[NO_GRAPH] = _row(
        retrain(config, graphless, recipe, seed=recipe.seed, device=device).model, graphless, classes, device
    )
    return _with_deltas(rows)


def modality_weights_by_class(
    model: nn.Module, data: Data, classes: list[str], device: torch.device
) -> tuple[dict[str, dict[str, float]] | None, str | None]:
    """Mean per-node modality weights per (true) class, for models that expose them.

    The interface is small: ``model.modality_weights(xs, masks, edge_index) -> [n, M]`` with the
    columns in ``model.modalities`` order (gated fusion). Other models give ``None`` and a note.
    """
    weights_fn = getattr(model, "modality_weights", None)
    if not callable(weights_fn):
        return None, f"{type(model).__name__} has no per-node modality weights (only gated fusion has them)"
    model = model.to(device).eval()
    names = list(model.modalities)
    xs = {m: data[f"x_{m}"].to(device) for m in names}
    masks = {m: data[f"mask_{m}"].to(device) for m in names}
    with torch.inference_mode():
        weights = weights_fn(xs, masks, data.edge_index.to(device)).cpu().numpy()
    y = data.y.numpy()
    table = {}
    for index, name in enumerate(classes):
        rows = weights[y == index]
        if len(rows):
            table[name] = {m: float(v) for m, v in zip(names, np.mean(rows, axis=0), strict=True)}
    return table, None
