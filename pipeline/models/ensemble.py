"""A weighted ensemble of fusion models: one module, so predict, serving and evaluation see one model."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol, cast

import torch
from torch import Tensor, nn

from pipeline.models.correct_and_smooth import CorrectAndSmooth


class _Classifier(Protocol):
    """What the ensemble reads of a member (a fusion model, or an ensemble itself)."""

    modalities: list[str]
    num_classes: int


class WeightedEnsemble(nn.Module):
    r"""The weighted mean of its members' class probabilities, as log-probabilities.

    .. math::
        \log \hat{\mathbf{p}}_i = \log \sum_k w_k \, \mathrm{softmax}\big(f_k(\mathbf{X}, \mathcal{E})\big)_i,
        \qquad \textstyle\sum_k w_k = 1

    Each member reads only its own modalities (a text-only member ignores the image), so the
    ensemble's :attr:`modalities` is the union of theirs. ``softmax`` of the output is the
    mixture, which is what label smoothing (:attr:`smoothing`) and every metric read.

    Shapes: as :class:`~pipeline.models.fusion_base.FusionBase`: output :math:`(N, C)`.
    """

    weights: Tensor  # a buffer (registered in __init__)

    def __init__(self, members: Sequence[nn.Module], weights: Sequence[float]) -> None:
        super().__init__()
        if not members or len(members) != len(weights):
            raise ValueError("an ensemble needs one positive weight per member, and at least one member")
        self.members = nn.ModuleList(members)
        total = float(sum(weights))
        # From the config, not the weights file: a buffer outside the state dict.
        self.register_buffer("weights", torch.tensor([w / total for w in weights]), persistent=False)
        classifiers = [cast(_Classifier, member) for member in members]
        self.modalities = sorted({m for member in classifiers for m in member.modalities})
        self.num_classes = classifiers[0].num_classes
        self.smoothing: CorrectAndSmooth | None = None

    def forward(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        mixture = None
        for weight, member in zip(self.weights, self.members, strict=True):
            probs = weight * torch.softmax(member(xs, masks, edge_index).float(), dim=-1)
            mixture = probs if mixture is None else mixture + probs
        assert mixture is not None  # __init__ refuses an ensemble without members
        return mixture.clamp_min(1e-12).log()

    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """The mixture's class probabilities: the one representation all members share."""
        return self.forward(xs, masks, edge_index).exp()

    def __repr__(self) -> str:
        parts = ", ".join(f"{w:.2f} x {m!r}" for w, m in zip(self.weights.tolist(), self.members, strict=True))
        return f"{self.__class__.__name__}({parts})"
