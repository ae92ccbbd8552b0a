"""Where candidates are scored: the validation split, or stratified folds of train + val.

With 49 validation nodes one node is 2 points of accuracy and the sd of an accuracy near 0.85 is
about 5 points: candidates a point apart cannot be told apart. Below ``cv_below`` labelled
validation nodes every train or val node is scored once, by a model that did not train on it
(transductive folds: all nodes' features and edges stay in the graph, only labels are held out).
The test split takes no part: :func:`without_test_labels` hides its labels before any of this.
"""

from __future__ import annotations

import copy
import warnings
from dataclasses import dataclass

import torch
from sklearn.model_selection import StratifiedKFold
from torch import Tensor
from torch_geometric.data import Data


@dataclass(frozen=True)
class Fold:
    """Labels of ``train_mask`` train (and are what label smoothing spreads); ``score_mask``
    stops training early and scores the candidate."""

    train_mask: Tensor
    score_mask: Tensor


def without_test_labels(data: Data) -> Data:
    """A shallow copy of ``data`` whose labels outside train and val are -1 and with no test mask:
    what the search sees, so it cannot read the test split even by mistake."""
    view = copy.copy(data)
    known = data.train_mask | data.val_mask
    view.y = torch.where(known, data.y, torch.full_like(data.y, -1))
    if "test_mask" in view:
        del view.test_mask
    return view


def selection_folds(data: Data, *, folds: int, cv_below: int, seed: int) -> tuple[list[Fold], str]:
    """The folds to score on, and how they were made (``"val"`` or ``"cv"``)."""
    labelled = data.y >= 0
    val = data.val_mask & labelled
    if int(val.sum()) >= cv_below:
        return [Fold(data.train_mask & labelled, val)], "val"
    pool = ((data.train_mask | data.val_mask) & labelled).nonzero().flatten()
    if pool.numel() < folds:
        raise ValueError(f"{pool.numel()} labelled train/val nodes cannot make {folds} folds")
    splitter = StratifiedKFold(n_splits=folds, shuffle=True, random_state=seed)
    out = []
    with warnings.catch_warnings():  # a class rarer than the folds: sklearn warns, the folds stay valid
        warnings.filterwarnings("ignore", message=".*least populated class.*")
        for train_rows, score_rows in splitter.split(pool.numpy(), data.y[pool].numpy()):
            train_mask = torch.zeros_like(labelled)
            score_mask = torch.zeros_like(labelled)
            train_mask[pool[train_rows]] = True
            score_mask[pool[score_rows]] = True
            out.append(Fold(train_mask, score_mask))
    return out, "cv"


def out_of_fold(fold_probs: Tensor, folds: list[Fold]) -> Tensor:
    """``[F, N, C]`` per-fold probabilities -> ``[N, C]``, each node's from the fold that scored
    it (zeros for nodes no fold scored)."""
    oof = torch.zeros_like(fold_probs[0])
    for probs, fold in zip(fold_probs, folds, strict=True):
        oof[fold.score_mask] = probs[fold.score_mask]
    return oof


def scored_nodes(folds: list[Fold]) -> Tensor:
    """Every node some fold scores."""
    mask = torch.zeros_like(folds[0].score_mask)
    for fold in folds:
        mask |= fold.score_mask
    return mask
