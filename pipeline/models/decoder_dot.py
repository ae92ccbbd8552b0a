"""Dot-product link decoder: the score of a pair is the inner product of its embeddings."""

from __future__ import annotations

from torch import Tensor, nn


class DotDecoder(nn.Module):
    r"""Inner-product decoder (Kipf & Welling, 2016, GAE).

    .. math::
        s(u, v) = \mathbf{z}_u^\top \mathbf{z}_v

    a logit; :math:`\sigma(s)` is the probability of the link. Symmetric and parameter-free.

    Shapes:
        - z_src, z_dst: :math:`(P, D)`; output :math:`(P,)`.
    """

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels

    def reset_parameters(self) -> None:
        """Nothing to reset: the decoder has no parameters."""

    def forward(self, z_src: Tensor, z_dst: Tensor) -> Tensor:
        return (z_src * z_dst).sum(dim=-1)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({self.channels})"
