"""What the node loop minimises and watches: class-weighted cross-entropy, the LR schedule, and
the score early stopping compares (:class:`~pipeline.training.early_stopping.EarlyStopping`)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor

from pipeline.training.options import TrainOptions


def monitor_score(row: dict[str, float], monitor: str) -> list[float]:
    """Higher is better. A metric breaks its ties by the lower loss, so among epochs with
    equally many validation nodes right, the most confident one is kept."""
    if monitor == "val_loss":
        return [-round(row["val_loss"], 6)]
    return [row[monitor], -round(row["val_loss"], 6)]


def class_weights(y: Tensor, train_idx: Tensor, num_classes: int, mode: str) -> Tensor:
    """``balanced``: :math:`n / (C \\cdot n_c)` from the training labels (scikit-learn's rule);
    ``none``: ones."""
    if mode == "none":
        return torch.ones(num_classes)
    counts = torch.bincount(y[train_idx], minlength=num_classes).to(torch.float32)
    present = counts > 0
    weights = torch.zeros(num_classes)
    weights[present] = train_idx.numel() / (int(present.sum()) * counts[present])
    return weights


def lr_scheduler(optimizer: torch.optim.Optimizer, options: TrainOptions):
    if options.scheduler == "plateau":
        return torch.optim.lr_scheduler.ReduceLROnPlateau(
            optimizer, mode="min", factor=0.5, patience=max(options.patience // 4, 1)
        )
    if options.scheduler == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimizer, T_max=options.max_epochs)
    return None


def weighted_loss(logits: Tensor, y: Tensor, weights: Tensor, denominator: float) -> Tensor:
    per_node = F.cross_entropy(logits.float(), y, reduction="none")
    return (weights[y] * per_node).sum() / max(denominator, 1e-12)
