"""Accuracy and macro-F1 in torch, for the per-epoch monitor (scikit-learn per epoch costs more
than a small graph's whole training step). Same definitions as ``pipeline.evaluation.metrics``."""

from __future__ import annotations

import torch
from torch import Tensor


def accuracy_macro_f1(y_true: Tensor, y_pred: Tensor, num_classes: int) -> tuple[float, float]:
    """Macro-F1 averages over the classes present in ``y_true`` or ``y_pred``."""
    accuracy, macro_f1 = accuracy_macro_f1_tensor(y_true, y_pred, num_classes).tolist()
    return accuracy, macro_f1


def accuracy_macro_f1_tensor(y_true: Tensor, y_pred: Tensor, num_classes: int) -> Tensor:
    """``[accuracy, macro-F1]`` as a float64 tensor on the labels' device, computed without
    reading anything back to the host, so the training loop fetches an epoch's figures at once."""
    if y_true.numel() == 0:
        return torch.full((2,), float("nan"), dtype=torch.float64, device=y_true.device)
    cells = y_true * num_classes + y_pred
    # scatter_add_, not bincount: on CUDA, bincount reads the largest label back to size its output.
    counts = torch.zeros(num_classes * num_classes, dtype=torch.long, device=cells.device)
    counts.scatter_add_(0, cells, torch.ones_like(cells))
    matrix = counts.reshape(num_classes, num_classes).to(torch.float64)
    tp = matrix.diagonal()
    support, predicted = matrix.sum(dim=1), matrix.sum(dim=0)
    present = (support + predicted) > 0
    f1 = torch.where(present, 2 * tp / (support + predicted).clamp(min=1), torch.zeros_like(tp))
    # A masked mean, not f1[present].mean(): boolean indexing waits for the device to count.
    macro_f1 = f1.sum() / present.sum()
    return torch.stack([tp.sum() / y_true.numel(), macro_f1])
