"""Correct & Smooth's strength for the ensemble, chosen on the same folds as the candidates.

For each fold, the members' fold models' probabilities are mixed with the ensemble weights and
smoothed with that fold's training labels only; the fold's scored nodes say how well. Ties go to
the weaker smoothing, and 0 (none) is a candidate: smoothing is kept only where it helped.
"""

from __future__ import annotations

from torch import Tensor
from torch_geometric.data import Data

from pipeline.models import ALPHA_GRID, CorrectAndSmooth
from pipeline.search.folds import Fold


def choose_strength(
    fold_mixtures: list[Tensor], data: Data, folds: list[Fold], layers: int, correct: bool
) -> tuple[float, dict[str, float]]:
    """The strength with the best accuracy over all scored nodes, and each strength's accuracy;
    ``fold_mixtures[f]`` is the ensemble's ``[N, C]`` probabilities from fold ``f``'s models."""
    scores: dict[str, float] = {}
    best: tuple[float, float] | None = None
    for alpha in ALPHA_GRID:
        smoothing = CorrectAndSmooth(alpha, layers, correct)
        right = seen = 0
        for probs, fold in zip(fold_mixtures, folds, strict=True):
            logits = probs.float().clamp_min(1e-12).log()
            pred = smoothing(logits, data.y, fold.train_mask, data.edge_index).argmax(-1)
            right += int((pred[fold.score_mask] == data.y[fold.score_mask]).sum())
            seen += int(fold.score_mask.sum())
        scores[f"{alpha:g}"] = right / max(seen, 1)
        if best is None or scores[f"{alpha:g}"] > best[1]:
            best = (alpha, scores[f"{alpha:g}"])
    assert best is not None
    return best[0], scores
