"""Accuracy and macro-F1 in torch, for the per-epoch monitor (scikit-learn per epoch costs more
than a small graph's whole training step). Same definitions as ``pipeline.evaluation.metrics``."""

from __future__ import annotations

import torch
from torch import Tensor


def accuracy_macro_f1(y_true: Tensor, y_pred: Tensor, num_classes: int) -> tuple[float, float]:
    """Macro-F1 averages over the classes present in ``y_true`` or ``y_pred``."""
    if y_true.numel() == 0:
        return float("nan"), float("nan")
    counts = torch.bincount(y_true * num_classes + y_pred, minlength=num_classes * num_classes)
    matrix = counts.reshape(num_classes, num_classes).to(torch.float64)
    tp = matrix.diagonal()
    support, predicted = matrix.sum(dim=1), matrix.sum(dim=0)
    present = (support + predicted) > 0
    f1 = torch.where(present, 2 * tp / (support + predicted).clamp(min=1), torch.zeros_like(tp))
    return float(tp.sum() / y_true.numel()), float(f1[present].mean())
