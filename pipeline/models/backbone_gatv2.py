"""GATv2 backbone: dynamic attention (the score depends on both endpoints after the nonlinearity)."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GATv2Conv

from pipeline.models.backbone_base import GNNStack


class GATv2Backbone(GNNStack):
    r""":class:`GNNStack` of :class:`torch_geometric.nn.conv.GATv2Conv` layers,

    .. math::
        \alpha_{ij} = \mathrm{softmax}_j\big(\mathbf{a}^{\top} \mathrm{LeakyReLU}(
            \mathbf{W}_s \mathbf{h}_i + \mathbf{W}_t \mathbf{h}_j)\big), \qquad
        \mathbf{h}_i' = \sum_{j \in \mathcal{N}(i) \cup \{i\}} \alpha_{ij} \mathbf{W}_t \mathbf{h}_j

    Hidden layers concatenate ``heads`` heads; the output layer has one.

    Args:
        heads: attention heads per hidden layer (must divide ``hidden_channels``).
    """

    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, heads: int = 4, **kwargs) -> nn.Module:
        if last:
            return GATv2Conv(in_channels, out_channels, heads=1)
        return GATv2Conv(in_channels, out_channels // heads, heads=heads)
