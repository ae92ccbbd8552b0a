"""Which modality mattered, and how much the graph did: test metrics with each input taken away.

Masking at inference asks "what does this model lose without X"; it punishes a model that never
saw X missing, so ``retrained`` (optional) trains a model without X as the honest comparison.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

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


def _mean(rows: list[dict[str, float]]) -> dict[str, float | None]:
    """Mean of each metric over seeds, with the sample sd of accuracy and macro-F1 (None for one seed)."""
    out: dict[str, float | None] = {k: float(np.nanmean([r[k] for r in rows])) for k in rows[0]}
    for key in ("accuracy", "macro_f1"):
        out[f"{key}_sd"] = float(np.std([r[key] for r in rows], ddof=1)) if len(rows) > 1 else None
    return out


def _with_deltas(rows: dict[str, dict]) -> dict[str, dict]:
    """Each condition also gets its change against ``full`` (negative: the model lost that much)."""
    full = rows[FULL]
    for name, row in rows.items():
        if name != FULL:
            row["delta_accuracy"] = row["accuracy"] - full["accuracy"]
            row["delta_macro_f1"] = row["macro_f1"] - full["macro_f1"]
    return rows


def _conditions(data: Data) -> list[str]:
    return [FULL] + [f"no_{m}" for m in modalities_of(data)] + [NO_GRAPH]


def _variant(data: Data, condition: str) -> Data:
    if condition == FULL:
        return data
    if condition == NO_GRAPH:
        return without_edges(data)
    return without_modality(data, condition.removeprefix("no_"))


def inference_ablation(
    models: nn.Module | Sequence[nn.Module], data: Data, classes: list[str], device: torch.device
) -> dict:
    """Test metrics of the trained model(s) (one per training seed: the mean over them) as they
    are, with each modality masked for every node, and with no edges."""
    models = [models] if isinstance(models, nn.Module) else list(models)
    rows = {c: _mean([_row(m, _variant(data, c), classes, device) for m in models]) for c in _conditions(data)}
    return _with_deltas(rows)


def retrained_ablation(
    config: FusionModelConfig,
    data: Data,
    classes: list[str],
    recipe: TrainParams,
    device: torch.device,
    full_models: nn.Module | Sequence[nn.Module],
    seeds: Sequence[int] | None = None,
    on_condition: Callable[[str], None] | None = None,
) -> dict:
    """Models trained with the same recipe and seeds without each modality, and without edges;
    ``full_models`` are the models of those seeds trained with everything."""
    full_models = [full_models] if isinstance(full_models, nn.Module) else list(full_models)
    seeds = list(seeds) if seeds is not None else [recipe.seed]
    rows = {FULL: _mean([_row(m, data, classes, device) for m in full_models])}
    for condition in _conditions(data)[1:]:
        if condition == NO_GRAPH:
            variant, reduced = without_edges(data), config
        else:
            variant, reduced = data, config.without(condition.removeprefix("no_"))
            if reduced is None:
                continue  # a model needs at least one modality
        trained = [retrain(reduced, variant, recipe, seed=seed, device=device).model for seed in seeds]
        rows[condition] = _mean([_row(m, variant, classes, device) for m in trained])
        if on_condition:
            on_condition(condition)
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
