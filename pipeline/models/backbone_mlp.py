"""MLP backbone: the same stack with the graph ignored, the no-graph baseline."""

from __future__ import annotations

from torch import Tensor, nn

from pipeline.models.backbone_base import GNNStack


class NodeLinear(nn.Linear):
    r"""A linear layer with a graph layer's signature: :math:`\mathbf{h}_i' = \mathbf{W}\mathbf{h}_i + \mathbf{b}`,
    ``edge_index`` ignored."""

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:  # noqa: ARG002
        return super().forward(x)


class MLPBackbone(GNNStack):
    r""":class:`GNNStack` of :class:`NodeLinear` layers: every node on its own features.

    .. math::
        \mathbf{h}_i' = \mathbf{W} \mathbf{h}_i + \mathbf{b}
    """

    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, **kwargs) -> nn.Module:
        return NodeLinear(in_channels, out_channels)
