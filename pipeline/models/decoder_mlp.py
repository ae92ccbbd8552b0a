"""MLP link decoder: a small network on a symmetric combination of the pair's embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class MLPDecoder(nn.Module):
    r"""An MLP on the pair, order-free so that an undirected link has one score.

    .. math::
        s(u, v) = \mathbf{w}_2^\top\, \mathrm{Dropout}\Big(\mathrm{ReLU}\big(\mathbf{W}_1
            [\mathbf{z}_u \odot \mathbf{z}_v \,\Vert\, |\mathbf{z}_u - \mathbf{z}_v|] + \mathbf{b}_1\big)\Big) + b_2

    The Hadamard product (as OGB's ``LinkPredictor``) carries agreement, the absolute difference
    carries distance; both are symmetric in :math:`u, v`.

    Shapes:
        - z_src, z_dst: :math:`(P, D)`; output :math:`(P,)`.
    """

    def __init__(self, channels: int, hidden_channels: int | None = None, dropout: float = 0.0) -> None:
        super().__init__()
        self.channels = channels
        hidden = hidden_channels or channels
        self.lin1 = nn.Linear(2 * channels, hidden)
        self.lin2 = nn.Linear(hidden, 1)
        self.dropout = nn.Dropout(dropout)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin1.reset_parameters()
        self.lin2.reset_parameters()

    def forward(self, z_src: Tensor, z_dst: Tensor) -> Tensor:
        pair = torch.cat([z_src * z_dst, (z_src - z_dst).abs()], dim=-1)
        return self.lin2(self.dropout(torch.relu(self.lin1(pair)))).squeeze(-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"
