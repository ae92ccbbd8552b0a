"""Early fusion of modality projections followed by two GraphSAGE layers."""

from __future__ import annotations

from collections.abc import Mapping

import torch
import torch.nn.functional as F
from torch import Tensor, nn
from torch_geometric.nn import SAGEConv

from pipeline.models.projection import ModalityProjection


class EarlyFusionSAGE(nn.Module):
    r"""Concatenate per-modality projections and the modality mask, then run GraphSAGE.

    .. math::
        \mathbf{h}_i^{(0)} = \big\Vert_{m \in \mathcal{M}} \mathbf{z}_i^{(m)}
            \,\Vert\, \mathbf{m}_i

        \mathbf{h}_i^{(1)} = \mathrm{ReLU}\left(\mathbf{W}_1 \mathbf{h}_i^{(0)} +
            \mathbf{W}_2 \cdot \mathrm{mean}_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(0)}\right)

        \hat{\mathbf{y}}_i = \mathbf{W}_3 \mathbf{h}_i^{(1)} +
            \mathbf{W}_4 \cdot \mathrm{mean}_{j \in \mathcal{N}(i)} \mathbf{h}_j^{(1)}

    with :math:`\mathbf{z}_i^{(m)}` from :class:`ModalityProjection` and
    :math:`\mathbf{m}_i \in \{0,1\}^{|\mathcal{M}|}` telling which modalities node :math:`i`
    has, so the network can learn to trust its neighbours more where a modality is missing.
    Isolated nodes aggregate nothing and fall back on their own features.

    Args:
        modality_dims: embedding size per modality, e.g. ``{"text": 384, "image": 1280}``.
        num_classes: number of output classes.
        projection_dim: size of each modality's projection.
        hidden_dim: size of the hidden GraphSAGE layer.
        dropout: dropout probability on the fused and hidden representations.
    """

    def __init__(
        self,
        modality_dims: Mapping[str, int],
        num_classes: int,
        projection_dim: int = 64,
        hidden_dim: int = 128,
        dropout: float = 0.5,
    ) -> None:
        super().__init__()
        if not modality_dims:
            raise ValueError("a fusion model needs at least one modality")
        self.modalities = sorted(modality_dims)
        self.dropout = dropout
        self.projections = nn.ModuleDict(
            {m: ModalityProjection(modality_dims[m], projection_dim) for m in self.modalities}
        )
        fused_dim = projection_dim * len(self.modalities) + len(self.modalities)
        self.conv1 = SAGEConv(fused_dim, hidden_dim)
        self.conv2 = SAGEConv(hidden_dim, num_classes)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for projection in self.projections.values():
            projection.reset_parameters()
        self.conv1.reset_parameters()
        self.conv2.reset_parameters()

    def fuse(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor]) -> Tensor:
        """The fused node representation :math:`\\mathbf{h}^{(0)}` before message passing."""
        parts = [self.projections[m](xs[m], masks[m]) for m in self.modalities]
        parts.append(torch.stack([masks[m].to(parts[0].dtype) for m in self.modalities], dim=-1))
        return torch.cat(parts, dim=-1)

    def forward(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        h = F.dropout(self.fuse(xs, masks), p=self.dropout, training=self.training)
        h = torch.relu(self.conv1(h, edge_index))
        h = F.dropout(h, p=self.dropout, training=self.training)
        return self.conv2(h, edge_index)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(modalities={self.modalities})"
