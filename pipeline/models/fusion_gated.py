"""Gated attention fusion: each node weighs its own modalities before message passing."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import Tensor, nn

from pipeline.models.fusion_base import Backbone, BackboneFactory, FusionBase


class GatedFusion(FusionBase):
    r"""Attention over a node's modalities, then the backbone.

    .. math::
        s_{i,m} = \mathbf{v}^\top \tanh\big(\mathbf{W} \mathbf{z}_i^{(m)} + \mathbf{b}\big),
        \qquad \alpha_{i,m} = \frac{m_{i,m} \exp(s_{i,m})}{\sum_{m'} m_{i,m'} \exp(s_{i,m'})}

        \mathbf{h}_i^{(0)} = \sum_{m} \alpha_{i,m} \mathbf{z}_i^{(m)} \,\Vert\, \mathbf{m}_i, \qquad
        \hat{\mathbf{y}}_i = f_\theta\big(\mathbf{H}^{(0)}, \mathcal{E}\big)_i

    Only modalities the node has take part; a node with none attends over the missing tokens.
    :meth:`modality_weights` returns :math:`\alpha`, which evaluation reports per class.

    See :class:`~pipeline.models.fusion_base.FusionBase` for the arguments and shapes.
    """

    def __init__(self, modality_dims: Mapping[str, int], num_classes: int, backbone: BackboneFactory, **kwargs) -> None:
        super().__init__(modality_dims, num_classes, backbone, **kwargs)
        p = self.projection_dim
        self.gate = nn.Sequential(nn.Linear(p, p), nn.Tanh(), nn.Linear(p, 1, bias=False))
        self.backbone = backbone(p + len(self.modalities), num_classes)

    def attention(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> tuple[Tensor, Tensor]:
        """Projections stacked :math:`(*, M, P)` and weights :math:`\\alpha` :math:`(*, M)`."""
        z = torch.stack(self.project(xs, masks), dim=-2)
        present = self.stacked_masks(masks, torch.bool)
        scores = self.gate(z).squeeze(-1)
        none = ~present.any(dim=-1, keepdim=True)
        scores = scores.masked_fill(~(present | none), float("-inf"))
        return z, torch.softmax(scores, dim=-1)

    def fuse(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> Tensor:
        """The fused node representation :math:`\\mathbf{h}^{(0)}` before the backbone."""
        z, alpha = self.attention(xs, masks)
        return torch.cat([(alpha.unsqueeze(-1) * z).sum(dim=-2), self.stacked_masks(masks, z.dtype)], dim=-1)

    def forward(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        xs, masks = self.prepare(xs, masks, edge_index)
        return self.backbone(self.fuse(xs, masks), edge_index)

    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        xs, masks = self.prepare(xs, masks, edge_index)
        return cast(Backbone, self.backbone).embed(self.fuse(xs, masks), edge_index)

    def modality_weights(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """:math:`\\alpha` per node, :math:`(N, M)` (a node's own features, hop 0, for sign)."""
        xs, masks = self.prepare(xs, masks, edge_index)
        alpha = self.attention(xs, masks)[1].detach()
        return alpha[:, 0] if alpha.dim() == 3 else alpha

    def backbone_repr(self) -> str:
        return repr(self.backbone)
