"""What a training run returns, and the model's predictions for every node (Correct & Smooth
applied when the data carries training labels): shared by both tasks and by inference."""

from __future__ import annotations

from dataclasses import dataclass, field

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pipeline.models import CorrectAndSmooth


@dataclass
class TrainResult:
    state_dict: dict[str, Tensor]
    best_epoch: int
    epochs_run: int
    monitor: str
    history: list[dict[str, float]] = field(default_factory=list)
    batching: str = "full"
    resumed_from: int = 0
    trained_nodes: int = 0  # training nodes this process scored per epoch (a share under DDP)
    prepare_seconds: float = 0.0  # moving data to the device, and precomputing hops for sign
    smoothing: CorrectAndSmooth | None = None  # chosen after training (options.smoothing); None: none
    smoothing_scores: dict[str, float] = field(default_factory=dict)  # val accuracy per strength tried

    def config_update(self) -> dict:
        """What to write into the model's config so a rebuilt model smooths as this one does."""
        s = self.smoothing
        return {"smoothing_alpha": s.alpha, "smoothing_layers": s.layers, "smoothing_correct": s.correct} if s else {}


def predict_logits(model: nn.Module, data: Data, device: torch.device) -> Tensor:
    """Logits for every node, in eval mode, on CPU.

    A model with Correct & Smooth (``model.smoothing``) gets it applied when ``data`` carries
    training labels (``y`` and ``train_mask``); without them the model's own logits are returned.
    """
    logits = model_logits(model, data, device)
    smoothing = getattr(model, "smoothing", None)
    if smoothing is not None and has_train_labels(data):
        with torch.inference_mode():
            logits = smoothing(logits, data.y, data.train_mask, data.edge_index)
    return logits


def model_logits(model: nn.Module, data: Data, device: torch.device) -> Tensor:
    """The model's own logits for every node (no Correct & Smooth), in eval mode, on CPU."""
    model = model.to(device).eval()
    names = model.modalities
    xs = {m: data[f"x_{m}"].to(device) for m in names}
    masks = {m: data[f"mask_{m}"].to(device) for m in names}
    with torch.inference_mode():
        return model(xs, masks, data.edge_index.to(device)).float().cpu()


def has_train_labels(data: Data) -> bool:
    """Whether ``data`` names labelled training nodes (what Correct & Smooth propagates)."""
    train_mask = data.get("train_mask")
    y = data.get("y")
    return train_mask is not None and y is not None and bool((train_mask.bool() & (y >= 0)).any())
