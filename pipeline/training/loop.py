"""Full-batch node classification with early stopping on the validation split.

Graphs that fit in memory train fastest full-batch; the loop keeps the best weights by
validation loss and stops after ``patience`` epochs without improvement.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from dataclasses import dataclass, field

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.data import Data

from pipeline.evaluation.metrics import classification_metrics

EpochCallback = Callable[[int, dict[str, float]], None]
MONITORS = ("val_loss", "val_accuracy", "val_macro_f1")


def _score(row: dict[str, float], monitor: str) -> tuple[float, ...]:
    """Higher is better. A metric breaks its ties by the lower loss, so among epochs with
    equally many validation nodes right, the most confident one is kept."""
    if monitor == "val_loss":
        return (-round(row["val_loss"], 6),)
    return (row[monitor], -round(row["val_loss"], 6))


@dataclass
class TrainResult:
    state_dict: dict[str, Tensor]
    best_epoch: int
    epochs_run: int
    monitor: str
    history: list[dict[str, float]] = field(default_factory=list)


def _inputs(data: Data, modalities: list[str], device: torch.device):
    xs = {m: data[f"x_{m}"].to(device) for m in modalities}
    masks = {m: data[f"mask_{m}"].to(device) for m in modalities}
    return xs, masks, data.edge_index.to(device)


def predict_logits(model: nn.Module, data: Data, device: torch.device) -> Tensor:
    """Logits for every node, in eval mode, on CPU."""
    model = model.to(device).eval()
    xs, masks, edge_index = _inputs(data, model.modalities, device)
    with torch.inference_mode():
        return model(xs, masks, edge_index).cpu()


def train_node_classifier(
    model: nn.Module,
    data: Data,
    *,
    num_classes: int,
    lr: float,
    weight_decay: float,
    max_epochs: int,
    patience: int,
    device: torch.device,
    monitor: str = "val_loss",
    on_epoch: EpochCallback | None = None,
) -> TrainResult:
    """Train on ``train_mask``, monitor ``val_mask``; return the best weights (on CPU).

    ``monitor`` picks the best epoch: ``val_loss`` (lowest), or ``val_accuracy`` /
    ``val_macro_f1`` (highest, ties to the lower loss). Training stops ``patience`` epochs
    after the last improvement.
    """
    if monitor not in MONITORS:
        raise ValueError(f"monitor must be one of {MONITORS}, not {monitor!r}")
    model = model.to(device)
    xs, masks, edge_index = _inputs(data, model.modalities, device)
    y = data.y.to(device)
    train_mask, val_mask = data.train_mask.to(device), data.val_mask.to(device)
    if not bool(train_mask.any()) or not bool(val_mask.any()):
        raise ValueError("training needs labelled nodes in both the train and the val split")
    optimizer = torch.optim.Adam(model.parameters(), lr=lr, weight_decay=weight_decay)

    best_score: tuple[float, ...] | None = None
    best_epoch, best_state = 0, None
    history: list[dict[str, float]] = []
    for epoch in range(1, max_epochs + 1):
        model.train()
        optimizer.zero_grad()
        logits = model(xs, masks, edge_index)
        loss = F.cross_entropy(logits[train_mask], y[train_mask])
        loss.backward()
        optimizer.step()

        model.eval()
        with torch.no_grad():
            logits = model(xs, masks, edge_index)
            val_loss = float(F.cross_entropy(logits[val_mask], y[val_mask]))
            pred = logits.argmax(dim=-1)
        train_metrics = classification_metrics(y[train_mask].cpu().numpy(), pred[train_mask].cpu().numpy(), num_classes)
        val_metrics = classification_metrics(y[val_mask].cpu().numpy(), pred[val_mask].cpu().numpy(), num_classes)
        row = {
            "epoch": epoch,
            "train_loss": loss.item(),
            "train_accuracy": train_metrics["accuracy"],
            "val_loss": val_loss,
            "val_accuracy": val_metrics["accuracy"],
            "val_macro_f1": val_metrics["macro_f1"],
        }
        history.append(row)
        if on_epoch is not None:
            on_epoch(epoch, row)
        score = _score(row, monitor)
        if best_score is None or score > best_score:
            best_score, best_epoch = score, epoch
            best_state = copy.deepcopy({k: v.detach().cpu() for k, v in model.state_dict().items()})
        elif epoch - best_epoch >= patience:
            break

    assert best_state is not None  # the first epoch always counts as an improvement
    return TrainResult(
        state_dict=best_state, best_epoch=best_epoch, epochs_run=len(history), monitor=monitor, history=history
    )
