"""SIGN backbone: an MLP over precomputed neighbourhood averages, for graphs too big for full batch."""

from __future__ import annotations

from typing import cast

import torch
from torch import Tensor, nn

from pipeline.models.backbone_base import make_norm
from pipeline.models.backbone_mlp import MLPBackbone


class SIGNBackbone(nn.Module):
    r"""Scalable Inception Graph Network (Frasca et al., 2020) over hop-stacked features.

    .. math::
        \mathbf{h}_i = \sigma\Big(\mathrm{Norm}\big(
            \big\Vert_{k=0}^{K} \mathbf{W}_k\, \mathrm{Dropout}(\mathbf{x}_i^{(k)})\big)\Big), \qquad
        \hat{\mathbf{y}}_i = \mathrm{MLP}(\mathbf{h}_i)

    where :math:`\mathbf{x}^{(k)}` is the fused input of the :math:`k`-hop neighbourhood
    average (see :func:`pipeline.models.propagation.precompute_hops`). The graph is used only
    through those averages, so rows are independent and train in mini-batches.

    With ``skip``, :math:`\hat{\mathbf{y}}_i \mathrel{+}= \mathbf{W}_{s}\mathbf{x}_i^{(0)}`: a linear
    path from the node's own fused input (hop 0) to the output.

    Shapes:
        - x: :math:`(N, K+1, F_{in})`, output :math:`(N, F_{out})`; ``edge_index`` is ignored.

    Args:
        hops: :math:`K`; ``num_layers`` counts the hop layer plus the MLP's layers.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_channels: int,
        out_channels: int,
        num_layers: int = 2,
        dropout: float = 0.5,
        norm: str = "none",
        residual: bool = False,
        jk: str = "none",
        hops: int = 2,
        skip: bool = False,
    ) -> None:
        super().__init__()
        self.in_channels, self.out_channels, self.hops = in_channels, out_channels, hops
        self.dropout = nn.Dropout(dropout)
        self.hop_lins = nn.ModuleList([nn.Linear(in_channels, hidden_channels) for _ in range(hops + 1)])
        width = hidden_channels * (hops + 1)
        self.norm = make_norm(norm, width)
        self.head = MLPBackbone(
            width,
            hidden_channels,
            out_channels,
            num_layers=max(num_layers - 1, 1),
            dropout=dropout,
            norm=norm,
            residual=residual,
            jk=jk,
        )
        self.skip = nn.Linear(in_channels, out_channels) if skip else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for lin in self.hop_lins:
            cast(nn.Linear, lin).reset_parameters()
        reset_norm = getattr(self.norm, "reset_parameters", None)
        if callable(reset_norm):  # "none" is an Identity
            reset_norm()
        self.head.reset_parameters()
        if self.skip is not None:
            self.skip.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:  # noqa: ARG002
        """The node representation the output layer reads, :math:`(N, d)` (the head's last hidden
        layer, and with ``skip`` the node's own input beside it): one row per node, like every
        backbone's, although the input has a hop axis."""
        if x.dim() != 3 or x.size(1) != self.hops + 1:
            raise ValueError(f"SIGN expects [N, {self.hops + 1}, F] hop features, got {tuple(x.shape)}")
        x = self.dropout(x)
        h = torch.cat([lin(x[:, k]) for k, lin in enumerate(self.hop_lins)], dim=-1)
        h = self.head.embed(torch.relu(self.norm(h)))  # the head's first dropout follows the norm
        return h if self.skip is None else torch.cat([h, x[:, 0]], dim=-1)

    def readout(self, h: Tensor, edge_index: Tensor | None = None) -> Tensor:  # noqa: ARG002
        """The output layer on :meth:`embed`'s representation."""
        if self.skip is None:
            return self.head.readout(h)
        return self.head.readout(h[..., : -self.in_channels]) + self.skip(h[..., -self.in_channels :])

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        return self.readout(self.embed(x, edge_index))

    def __repr__(self) -> str:
        skip = self.skip is not None
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, hops={self.hops}, skip={skip})"
