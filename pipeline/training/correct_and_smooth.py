"""Choosing the Correct & Smooth of a trained model on the validation split.

``train.smoothing: auto`` tries each strength of :data:`~pipeline.models.ALPHA_GRID` (0 = none)
on the best epoch's predictions and keeps the one with the best validation accuracy (ties go to
the weaker smoothing, so a graph whose edges do not help keeps the model's own predictions). Only
the training labels are propagated; the validation labels only score the candidates.
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import Data

from pipeline.models import ALPHA_GRID, CorrectAndSmooth
from pipeline.training.options import TrainOptions


def choose_smoothing(
    logits: Tensor, data: Data, options: TrainOptions
) -> tuple[CorrectAndSmooth | None, dict[str, float]]:
    """The smoothing ``options.smoothing`` asks for (``off``, a strength, or ``auto``: the best on
    validation) for the model's ``logits`` (the best epoch's, every node), and the validation
    accuracy of each candidate tried."""
    if options.smoothing == "off":
        return None, {}
    candidates = ALPHA_GRID if options.smoothing == "auto" else (float(options.smoothing),)
    val = data.val_mask & (data.y >= 0)
    scores: dict[str, float] = {}
    best: tuple[float, float] | None = None
    for alpha in candidates:
        smoothing = CorrectAndSmooth(alpha, options.smoothing_layers, options.smoothing_correct)
        pred = smoothing(logits, data.y, data.train_mask, data.edge_index).argmax(-1)
        accuracy = float((pred[val] == data.y[val]).float().mean())
        scores[f"{alpha:g}"] = accuracy
        if best is None or accuracy > best[1]:
            best = (alpha, accuracy)
    alpha = best[0] if best is not None else 0.0
    if alpha <= 0:
        return None, scores
    return CorrectAndSmooth(alpha, options.smoothing_layers, options.smoothing_correct), scores
