"""Late fusion: one backbone per modality, their logits mixed with learned weights."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import Tensor, nn

from pipeline.models.fusion_base import Backbone, BackboneFactory, FusionBase


class LateFusion(FusionBase):
    r"""Each modality gets its own branch; the class scores are a learned convex mix.

    .. math::
        \hat{\mathbf{y}}_i = \sum_{m \in \mathcal{M}} w_m \, f_{\theta_m}\big(
            [\mathbf{Z}^{(m)} \Vert \mathbf{m}^{(m)}], \mathcal{E}\big)_i,
        \qquad \mathbf{w} = \mathrm{softmax}(\mathbf{a})

    A branch sees its modality's projection and mask only, so a modality that carries no signal
    can be down-weighted as a whole; a node missing modality :math:`m` still gets branch
    :math:`m`'s view of its neighbours (or the missing token on an isolated node).

    See :class:`~pipeline.models.fusion_base.FusionBase` for the arguments and shapes.
    """

    def __init__(self, modality_dims: Mapping[str, int], num_classes: int, backbone: BackboneFactory, **kwargs) -> None:
        super().__init__(modality_dims, num_classes, backbone, **kwargs)
        self.branches = nn.ModuleDict({m: backbone(self.projection_dim + 1, num_classes) for m in self.modalities})
        self.mix = nn.Parameter(torch.zeros(len(self.modalities)))

    def reset_parameters(self) -> None:
        super().reset_parameters()
        nn.init.zeros_(self.mix)

    def branch_inputs(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> dict[str, Tensor]:
        """Each branch's input :math:`[\\mathbf{z}^{(m)} \\Vert \\mathbf{m}^{(m)}]`."""
        zs = zip(self.modalities, self.project(xs, masks), strict=True)
        return {m: torch.cat([z, masks[m].to(z.dtype).unsqueeze(-1)], dim=-1) for m, z in zs}

    def forward(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        xs, masks = self.prepare(xs, masks, edge_index)
        weights = torch.softmax(self.mix, dim=0)
        logits = None
        for j, (m, branch_input) in enumerate(self.branch_inputs(xs, masks).items()):
            out = weights[j] * self.branches[m](branch_input, edge_index)
            logits = out if logits is None else logits + out
        assert logits is not None  # a fusion has at least one modality (FusionBase refuses none)
        return logits

    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        r"""The branches' embeddings, each scaled by its weight and concatenated,
        :math:`\Vert_m w_m \mathbf{e}^{(m)}`: with linear output layers the logits are one linear
        map of it, and a branch the mix ignores does not shape the map."""
        xs, masks = self.prepare(xs, masks, edge_index)
        weights = torch.softmax(self.mix, dim=0)
        parts = self.branch_inputs(xs, masks).items()
        return torch.cat(
            [weights[j] * cast(Backbone, self.branches[m]).embed(h, edge_index) for j, (m, h) in enumerate(parts)],
            dim=-1,
        )

    def modality_weights(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """The learned mix :math:`\\mathbf{w}`, the same for every node: :math:`(N, M)`."""
        n = masks[self.modalities[0]].size(0)
        return torch.softmax(self.mix.detach(), dim=0).expand(n, -1)

    def backbone_repr(self) -> str:
        return repr(self.branches[self.modalities[0]])
