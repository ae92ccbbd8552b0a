"""Class probabilities of a model on a graph, and the metrics of each split from them."""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.dataset import SPLITS
from pipeline.evaluation.metrics import HEADLINE, evaluate_probs
from pipeline.training import predict_logits


def probabilities(model: nn.Module, data: Data, device: torch.device) -> np.ndarray:
    """Softmax over classes for every node, ``[n, num_classes]`` float64 on the CPU."""
    return torch.softmax(predict_logits(model, data, device).double(), dim=-1).numpy()


def split_metrics(probs: np.ndarray, data: Data, classes: list[str], splits=SPLITS) -> dict[str, dict]:
    """:func:`evaluate_probs` for each split's labelled nodes."""
    y = data.y.numpy()
    out = {}
    for split in splits:
        mask = data[f"{split}_mask"].numpy() & (y >= 0)
        out[split] = evaluate_probs(y[mask], probs[mask], classes)
    return out


def headline(metrics: dict) -> dict[str, float]:
    """The float metrics only (no per-class table): what spread and ablation compare."""
    return {name: metrics[name] for name in HEADLINE}
