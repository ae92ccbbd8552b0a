"""A link predictor: any fusion x backbone of the zoo as the node encoder, a decoder on pairs."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol, cast

from torch import Tensor, nn

from pipeline.models.fusion_base import FusionBase


class _Resettable(Protocol):
    """A module with its own ``reset_parameters`` (a module's attributes type as ``Tensor | Module``)."""

    def reset_parameters(self) -> None: ...


class LinkPredictor(nn.Module):
    r"""Encode every node over the message-passing graph, then score node pairs.

    .. math::
        \mathbf{Z} = f_\theta(\{\mathbf{X}^{(m)}\}, \mathcal{E}_{\text{train}}), \qquad
        \hat{p}(u, v) = \sigma\big(g_\phi(\mathbf{z}_u, \mathbf{z}_v)\big)

    with :math:`f_\theta` a fusion model whose output width is the embedding size and
    :math:`g_\phi` a decoder (dot, MLP, DistMult). ``forward`` returns logits.

    Shapes:
        - xs, masks: as :class:`~pipeline.models.fusion_base.FusionBase`;
        - edge_index: :math:`(2, E)` message passing; pairs: :math:`(2, P)`; output :math:`(P,)`.
    """

    def __init__(self, encoder: FusionBase, decoder: nn.Module) -> None:
        super().__init__()
        self.encoder = encoder
        self.decoder = decoder

    @property
    def modalities(self) -> list[str]:
        return self.encoder.modalities

    @property
    def hops(self) -> int | None:
        return self.encoder.hops

    def reset_parameters(self) -> None:
        self.encoder.reset_parameters()
        cast(_Resettable, self.decoder).reset_parameters()  # every decoder of the zoo has one

    def encode(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """Node embeddings :math:`(N, D)`."""
        return self.encoder(xs, masks, edge_index)

    def embed(self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor) -> Tensor:
        """Node embeddings :math:`(N, D)` as every model of the zoo gives them: here, what the
        decoder scores (:meth:`encode`)."""
        return self.encode(xs, masks, edge_index)

    def decode(self, z: Tensor, pairs: Tensor) -> Tensor:
        """Logits of the :math:`(2, P)` pairs from embeddings :math:`(N, D)`."""
        return self.decoder(z[pairs[0]], z[pairs[1]])

    def forward(
        self, xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor, pairs: Tensor
    ) -> Tensor:
        return self.decode(self.encode(xs, masks, edge_index), pairs)

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}(encoder={self.encoder!r}, decoder={self.decoder!r})"
