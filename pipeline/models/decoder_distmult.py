"""DistMult link decoder: a learned diagonal bilinear form over the pair's embeddings."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class DistMultDecoder(nn.Module):
    r"""DistMult (Yang et al., 2015) with one relation, as PyG's ``DistMult`` scores a triple.

    .. math::
        s(u, v) = \langle \mathbf{z}_u, \mathbf{r}, \mathbf{z}_v \rangle
                = \sum_{d} z_{u,d}\, r_d\, z_{v,d}

    with :math:`\mathbf{r} \in \mathbb{R}^D` learned: it weights (and may flip) each embedding
    dimension, which the plain dot product cannot. Symmetric in :math:`u, v`.

    Shapes:
        - z_src, z_dst: :math:`(P, D)`; output :math:`(P,)`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        self.relation = nn.Parameter(torch.empty(channels))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        nn.init.ones_(self.relation)  # starts as the dot product, learns from there

    def forward(self, z_src: Tensor, z_dst: Tensor) -> Tensor:
        return (z_src * self.relation * z_dst).sum(dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"
