"""Correct & Smooth: spread the training labels over the graph after the model has spoken.

A GNN sees its neighbours' *features*; on a homophilous graph with many labelled nodes, their
*labels* say more. PyG's :class:`~torch_geometric.nn.models.CorrectAndSmooth` (Huang et al.,
2021) propagates them on top of the model's probabilities. Only training labels enter: the
validation labels choose ``alpha`` (see :mod:`pipeline.training.correct_and_smooth`), the test
labels never take part.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import Tensor
from torch_geometric.nn.models import CorrectAndSmooth as PyGCorrectAndSmooth

from pipeline.models.generated_code import remove_generated_files

#: The smoothing strengths ``auto`` chooses from on the validation split (0 = no smoothing).
ALPHA_GRID = (0.0, 0.5, 0.7, 0.8, 0.9)


@dataclass(frozen=True)
class CorrectAndSmooth:
    r"""Post-processing of a model's class probabilities with the training labels.

    .. math::
        \mathbf{Z}^{(0)} = \mathrm{softmax}(\text{logits}), \quad
        \mathbf{Z}^{(0)}_i \leftarrow \mathbf{y}_i \text{ for training nodes } i, \quad
        \mathbf{Z}^{(\ell)} = \alpha\,\mathbf{D}^{-1/2}\mathbf{A}\mathbf{D}^{-1/2}\mathbf{Z}^{(\ell-1)}
            + (1 - \alpha)\,\mathbf{Z}^{(0)}

    for ``layers`` steps (PyG's ``CorrectAndSmooth.smooth``), preceded by its ``correct`` step
    (training residuals propagated, autoscaled) when ``correct`` is set. Rows are renormalised
    and returned as log-probabilities, so ``softmax`` of the output is the smoothed distribution.
    A node with no edge keeps the model's own prediction.

    Shapes: logits :math:`(N, C)`, y :math:`(N,)` (any value off the train mask), train_mask
    :math:`(N,)` bool, edge_index :math:`(2, E)`; output :math:`(N, C)`.
    """

    alpha: float
    layers: int = 50
    correct: bool = False

    def __call__(self, logits: Tensor, y: Tensor, train_mask: Tensor, edge_index: Tensor) -> Tensor:
        train_mask = train_mask.to(logits.device).bool() & (y.to(logits.device) >= 0)
        if self.alpha <= 0 or not bool(train_mask.any()) or edge_index.numel() == 0:
            return logits
        cs = PyGCorrectAndSmooth(self.layers, 0.8, self.layers, self.alpha, autoscale=True)
        remove_generated_files()  # PyG's LabelPropagation wrote its propagate() to /tmp once
        probs = torch.softmax(logits.float(), dim=-1)
        y_train = y.to(logits.device)[train_mask]
        if self.correct:
            probs = cs.correct(probs, y_train, train_mask, edge_index)
        smoothed = cs.smooth(probs, y_train, train_mask, edge_index).clamp_min(0)
        total = smoothed.sum(dim=-1, keepdim=True)
        smoothed = torch.where(total > 0, smoothed / total.clamp_min(1e-12), torch.softmax(logits.float(), -1))
        return smoothed.clamp_min(1e-12).log()


LabelSmoothing = CorrectAndSmooth  # the older name, kept for code that imported it
