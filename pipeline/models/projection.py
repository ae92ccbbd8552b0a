"""Projection of one modality's embedding into the shared fusion space."""

from __future__ import annotations

import torch
from torch import Tensor, nn


class ModalityProjection(nn.Module):
    r"""Projects one modality; nodes that lack it get zeros or a learned missing token.

    .. math::
        \mathbf{z}_i = m_i \cdot \mathrm{ReLU}\left(\mathrm{LayerNorm}
        \left(\mathbf{W} \,\mathrm{Dropout}_q(\mathbf{x}_i) + \mathbf{b}\right)\right)
        + (1 - m_i)\,\mathbf{t}

    where :math:`m_i \in \{0, 1\}` is the modality mask of node :math:`i` and
    :math:`\mathbf{t}` is a learned token (or zero when ``missing_token=False``). Masking
    (rather than projecting the zero vector, which would give :math:`\mathrm{ReLU}(\mathbf{b})`)
    keeps "missing" distinct from any real input; the token lets the network say so in a
    direction of its choice. Input dropout (rate :math:`q`, training only) zeroes single
    embedding dimensions, so a wide embedding (1,280 image dims) cannot be fitted dimension by
    dimension on a few hundred training nodes. It applies only where the projection compresses
    (:math:`F_{in} > F_{out}`): a table of a dozen columns keeps every column (:math:`q = 0`).

    Shapes:
        - x: :math:`(*, F_{in})`, mask: :math:`(*)` (bool or 0/1), output :math:`(*, F_{out})`;
          the leading dims are the nodes and, for precomputed propagation, the hops.

    Args:
        in_channels: the encoder's embedding size.
        out_channels: the shared projection size.
        missing_token: learn :math:`\mathbf{t}` instead of using zeros.
        input_dropout: :math:`q`, the dropout rate on the embedding's dimensions (used only
            when ``in_channels > out_channels``).
    """

    def __init__(
        self, in_channels: int, out_channels: int, missing_token: bool = False, input_dropout: float = 0.0
    ) -> None:
        super().__init__()
        self.in_channels = in_channels
        self.out_channels = out_channels
        wide = in_channels > out_channels
        self.input_dropout = nn.Dropout(input_dropout) if input_dropout > 0 and wide else nn.Identity()
        self.lin = nn.Linear(in_channels, out_channels)
        self.norm = nn.LayerNorm(out_channels)
        self.token = nn.Parameter(torch.empty(out_channels)) if missing_token else None
        self.reset_parameters()

    def reset_parameters(self) -> None:
        self.lin.reset_parameters()
        self.norm.reset_parameters()
        if self.token is not None:
            nn.init.normal_(self.token, std=0.1)

    def forward(self, x: Tensor, mask: Tensor) -> Tensor:
        z = torch.relu(self.norm(self.lin(self.input_dropout(x.to(self.lin.weight.dtype)))))
        present = mask.to(z.dtype).unsqueeze(-1)
        z = z * present
        if self.token is not None:
            z = z + (1 - present) * self.token
        return z

    def __repr__(self) -> str:
        token = ", missing_token=True" if self.token is not None else ""
        drop = f", input_dropout={self.input_dropout.p}" if isinstance(self.input_dropout, nn.Dropout) else ""
        return f"{self.__class__.__name__}({self.in_channels}, {self.out_channels}{token}{drop})"
