"""GraphSAGE backbone (mean aggregation), the original GraphFuse backbone."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import SAGEConv

from pipeline.models.backbone_base import GNNStack


class SAGEBackbone(GNNStack):
    r""":class:`GNNStack` of :class:`torch_geometric.nn.conv.SAGEConv` layers,

    .. math::
        \mathbf{h}_i' = \mathbf{W}_1 \mathbf{h}_i + \mathbf{W}_2 \cdot
            \mathrm{mean}_{j \in \mathcal{N}(i)} \mathbf{h}_j

    The root weight keeps isolated nodes on their own features.
    """

    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, **kwargs) -> nn.Module:
        return SAGEConv(in_channels, out_channels)
