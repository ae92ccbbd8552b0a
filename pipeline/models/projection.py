"""Projection of one modality's embedding into the shared fusion space."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ModalityProjection(nn.Module):
    r"""Projects one modality and zeroes the nodes that lack it.

    .. math::
        \mathbf{z}_i = m_i \cdot \mathrm{ReLU}\left(\mathrm{LayerNorm}
        \left(\mathbf{W} \mathbf{x}_i + \mathbf{b}\right)\right)

    where :math:`m_i \in \{0, 1\}` is the modality mask of node :math:`i`. Zeroing (rather
    than projecting the zero vector, which would give :math:`\mathrm{ReLU}(\mathbf{b})`) keeps
    "missing" distinct from any real input.

    Args:
        in_channels: the encoder's embedding size.
        out_channels: the shared projection size.
    """

    def __init__(self, in_channels: int, out_channels: int) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.lin = nn.Linear(in_channels, out_channels)
        self.norm = nn.LayerNorm(out_channels)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.norm.reset_parameters()

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        z = torch.relu(self.norm(self.lin(x)))
        return z * mask.to(z.dtype).unsqueeze(-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels})"
