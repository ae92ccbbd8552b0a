"""GCN backbone: symmetric-normalised neighbourhood averaging with self-loops."""

from __future__ import annotations

from torch import nn
from torch_geometric.nn import GCNConv

from pipeline.models.backbone_base import GNNStack


class GCNBackbone(GNNStack):
    r""":class:`GNNStack` of :class:`torch_geometric.nn.conv.GCNConv` layers,

    .. math::
        \mathbf{H}' = \hat{\mathbf{D}}^{-1/2} \hat{\mathbf{A}} \hat{\mathbf{D}}^{-1/2} \mathbf{H} \mathbf{W},
        \qquad \hat{\mathbf{A}} = \mathbf{A} + \mathbf{I}

    Not cached: the same module runs on mini-batches and on new graphs at prediction time.
    """

    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, **kwargs) -> nn.Module:
        return GCNConv(in_channels, out_channels)
