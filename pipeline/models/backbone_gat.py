"""GAT backbone: attention over neighbours, several heads in hidden layers."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GATConv

from pipeline.models.backbone_base import GNNStack


class GATBackbone(GNNStack):
    r""":class:`GNNStack` of :class:`torch_geometric.nn.conv.GATConv` layers,

    .. math::
        \mathbf{h}_i' = \big\Vert_{k=1}^{K} \sum_{j \in \mathcal{N}(i) \cup \{i\}}
            \alpha_{ij}^{k} \mathbf{W}^{k} \mathbf{h}_j, \qquad
        \alpha_{ij}^{k} = \mathrm{softmax}_j\big(\mathrm{LeakyReLU}(\mathbf{a}^{k\top}
            [\mathbf{W}^{k}\mathbf{h}_i \Vert \mathbf{W}^{k}\mathbf{h}_j])\big)

    Hidden layers concatenate ``heads`` heads of ``hidden_channels / heads`` each; the output
    layer has one head.

    Args:
        heads: attention heads per hidden layer (must divide ``hidden_channels``).
    """

    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, heads: int = 4, **kwargs) -> nn.Module:
        if last:
            return GATConv(in_channels, out_channels, heads=1)
        return GATConv(in_channels, out_channels // heads, heads=heads)
