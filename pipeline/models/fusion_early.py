"""Early fusion: concatenate the modality projections and masks, then one backbone."""

from __future__ import annotations

from collections.abc import Mapping
from typing import cast

import torch
from torch import Tensor

from pipeline.models.fusion_base import Backbone, BackboneFactory, FusionBase


class EarlyFusion(FusionBase):
    r"""Concatenate per-modality projections and the modality mask, then run the backbone.

    .. math::
        \mathbf{h}_i^{(0)} = \big\Vert_{m \in \mathcal{M}} \mathbf{z}_i^{(m)} \,\Vert\, \mathbf{m}_i,
        \qquad \hat{\mathbf{y}}_i = f_\theta\big(\mathbf{H}^{(0)}, \mathcal{E}\big)_i

    with :math:`\mathbf{z}_i^{(m)}` from :class:`~pipeline.models.projection.ModalityProjection`
    and :math:`\mathbf{m}_i \in \{0,1\}^{|\mathcal{M}|}` telling which modalities node :math:`i`
    has, so the network can learn to trust its neighbours more where a modality is missing.
    With the ``sage`` backbone and two layers this is the original GraphFuse model.

    See :class:`~pipeline.models.fusion_base.FusionBase` for the arguments and shapes.
    """

    def __init__(self, modality_dims: Mapping[str, int], num_classes: int, backbone: BackboneFactory, **kwargs) -> None:
        super().__init__(modality_dims, num_classes, backbone, **kwargs)
        fused_dim = (self.projection_dim + 1) * len(self.modalities)
        self.backbone = backbone(fused_dim, num_classes)

    def fuse(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> Tensor:
        """The fused node representation :math:`\\mathbf{h}^{(0)}` before the backbone."""
        parts = self.project(xs, masks)
        parts.append(self.stacked_masks(masks, parts[0].dtype))
        return torch.cat(parts, dim=-1)

    def forward(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        xs, masks = self.prepare(xs, masks, edge_index)
        return self.backbone(self.fuse(xs, masks), edge_index)

    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        xs, masks = self.prepare(xs, masks, edge_index)
        return cast(Backbone, self.backbone).embed(self.fuse(xs, masks), edge_index)

    def backbone_repr(self) -> str:
        return repr(self.backbone)
