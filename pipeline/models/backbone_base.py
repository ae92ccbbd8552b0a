"""The layer stack every message-passing backbone shares: norm, activation, residual, JK."""

from __future__ import annotations

from abc import ABC, abstractmethod

import torch
from torch import Tensor, nn
from torch_geometric.nn import JumpingKnowledge


def make_norm(norm: str, channels: int) -> nn.Module:
    """``none``, ``batch`` (over nodes) or ``layer`` (per node). PyG's own LayerNorm
    defaults to normalising over the whole graph, which is not what a node classifier wants."""
    if norm == "none":
        return nn.Identity()
    if norm == "batch":
        return nn.BatchNorm1d(channels)
    if norm == "layer":
        return nn.LayerNorm(channels)
    raise ValueError(f"norm must be none, batch or layer, not {norm!r}")


class GNNStack(nn.Module, ABC):
    r"""``num_layers`` graph layers with dropout, norm, activation, residuals and jumping knowledge.

    .. math::
        \mathbf{H}^{(0)} = \mathrm{Dropout}(\mathbf{X}), \qquad
        \mathbf{H}^{(l)} = \mathrm{Dropout}\Big(\sigma\big(\mathrm{Norm}(
            \mathrm{Conv}_l(\mathbf{H}^{(l-1)}, \mathcal{E}))\big)\Big)
            + [\text{residual}]\,\mathbf{H}^{(l-1)}

    for :math:`l < L`; without jumping knowledge the last layer maps straight to the classes,
    :math:`\hat{\mathbf{Y}} = \mathrm{Conv}_L(\mathbf{H}^{(L-1)}, \mathcal{E})`. With it, every
    layer is hidden and :math:`\hat{\mathbf{Y}} = \mathbf{W}\,\mathrm{JK}(\mathbf{H}^{(1)},
    \dots, \mathbf{H}^{(L)})` (``last``, ``cat`` or ``max``). A residual is added where the
    input and output widths agree (every hidden layer but the first).

    With ``skip``, a linear path runs from the input straight to the output,
    :math:`\hat{\mathbf{Y}} \mathrel{+}= \mathbf{W}_{s}\mathbf{H}^{(0)}`, so a node can fall back
    on its own features where its neighbours mislead (a no-graph model is one special case).

    Subclasses only say which layer to stack, as in :class:`torch_geometric.nn.models.BasicGNN`
    (which has no residuals, hence this class).

    Shapes:
        - x: :math:`(N, F_{in})`, edge_index: :math:`(2, E)`, output :math:`(N, F_{out})`.
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
        skip: bool = False,
        **conv_kwargs,
    ) -> None:
        super().__init__()
        if num_layers < 1:
            raise ValueError("a backbone needs at least one layer")
        self.in_channels, self.hidden_channels, self.out_channels = in_channels, hidden_channels, out_channels
        self.num_layers, self.residual, self.jk_mode = num_layers, residual, jk
        self.dropout = nn.Dropout(dropout)
        hidden_layers = num_layers if jk != "none" else num_layers - 1
        self.convs = nn.ModuleList()
        self.norms = nn.ModuleList()
        width = in_channels
        for _ in range(hidden_layers):
            self.convs.append(self.init_conv(width, hidden_channels, last=False, **conv_kwargs))
            self.norms.append(make_norm(norm, hidden_channels))
            width = hidden_channels
        if jk == "none":
            self.convs.append(self.init_conv(width, out_channels, last=True, **conv_kwargs))
            self.jk, self.lin = None, None
        else:
            self.jk = JumpingKnowledge(jk) if jk in ("cat", "max") else None
            self.lin = nn.Linear(hidden_channels * num_layers if jk == "cat" else hidden_channels, out_channels)
        self.skip = nn.Linear(in_channels, out_channels) if skip else None
        self.reset_parameters()

    @abstractmethod
    def init_conv(self, in_channels: int, out_channels: int, *, last: bool, **kwargs) -> nn.Module:
        """One message-passing layer of the backbone (each backbone file says which)."""

    def reset_parameters(self) -> None:
        for module in [*self.convs, *self.norms, self.lin, self.skip]:
            if module is not None and hasattr(module, "reset_parameters"):
                module.reset_parameters()

    def embed(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        """The node representation the output layer reads, :math:`(N, d)`: the last hidden
        layer (the jumping-knowledge mix with ``jk``; the input itself with one layer), and
        with ``skip`` the input beside it."""
        h = x = self.dropout(x)
        hidden: list[Tensor] = []
        for conv, norm in zip(self.convs, self.norms, strict=False):
            out = self.dropout(torch.relu(norm(conv(h, edge_index))))
            if self.residual and out.shape[-1] == h.shape[-1]:
                out = out + h
            hidden.append(out)
            h = out
        if self.lin is not None:
            h = hidden[-1] if self.jk is None else self.jk(hidden)
        return h if self.skip is None else torch.cat([h, x], dim=-1)

    def readout(self, h: Tensor, edge_index: Tensor | None = None) -> Tensor:
        """The output layer on :meth:`embed`'s representation."""
        if self.skip is not None:
            h, x = h[..., : -self.in_channels], h[..., -self.in_channels :]
        out = self.convs[-1](h, edge_index) if self.lin is None else self.lin(h)
        return out if self.skip is None else out + self.skip(x)

    def forward(self, x: Tensor, edge_index: Tensor | None = None) -> Tensor:
        return self.readout(self.embed(x, edge_index), edge_index)

    def __repr__(self) -> str:
        return (
            f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}, "
            f"num_layers={self.num_layers}, jk={self.jk_mode}, residual={self.residual}, skip={self.skip is not None})"
        )
