"""Per-modality auxiliary classifiers: each projection must predict the class on its own."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import cast

import torch.nn.functional as F
from torch import Tensor, nn


class ModalityHeads(nn.Module):
    r"""One linear classifier per modality projection, trained with its own cross-entropy.

    In joint training the modality that is quickest to fit (often the widest) takes over and the
    others' projections stay weak ("modality competition"; Wang et al., 2020, *What makes training
    multi-modal classification networks hard?*). A head per modality gives each projection a
    gradient of its own:

    .. math::
        \mathcal{L} = \mathcal{L}_{\text{main}} + \frac{\lambda}{|\mathcal{M}|}
            \sum_{m \in \mathcal{M}} \frac{1}{W} \sum_{i \in \mathcal{B}}
            m_{i,m}\, w_{y_i}\, \mathrm{CE}\big(\mathbf{U}_m \mathbf{z}_i^{(m)} + \mathbf{c}_m,\; y_i\big)

    over the scored nodes :math:`\mathcal{B}` with class weights :math:`w` and the main loss's
    denominator :math:`W` (so under DDP the averaged gradient is the single-process one); a node
    lacking modality :math:`m` (or whose modality dropout hid it) adds nothing to head :math:`m`.
    Training only: predictions never read the heads.

    Shapes:
        - projections: ``{modality: (N, P)}``, masks: ``{modality: (N,)}``; rows :math:`(B,)` or
          ``None`` (all), y :math:`(B,)`, class weights :math:`(C,)`; output a scalar.

    Args:
        modalities: the modality names.
        in_channels: the projection size :math:`P`.
        num_classes: :math:`C`.
        weight: :math:`\lambda`.
    """

    def __init__(self, modalities: Sequence[str], in_channels: int, num_classes: int, weight: float) -> None:
        super().__init__()
        self.weight = weight
        self.heads = nn.ModuleDict({m: nn.Linear(in_channels, num_classes) for m in modalities})
        self.reset_parameters()

    def reset_parameters(self) -> None:
        for head in self._linears().values():
            head.reset_parameters()

    def _linears(self) -> dict[str, nn.Linear]:
        """The heads as the linear layers they are (a ModuleDict types its items as any module)."""
        return {m: cast(nn.Linear, head) for m, head in self.heads.items()}

    def forward(
        self,
        projections: Mapping[str, Tensor],
        masks: Mapping[str, Tensor],
        rows: Tensor | None,
        y: Tensor,
        class_weights: Tensor,
        denominator: float,
    ) -> Tensor:
        total: Tensor | None = None
        for m, head in self._linears().items():
            z, present = projections[m], masks[m]
            if rows is not None:
                z, present = z[rows], present[rows]
            per_node = F.cross_entropy(head(z.to(head.weight.dtype)).float(), y, reduction="none")
            term = (present.to(per_node.dtype) * class_weights[y] * per_node).sum()
            total = term if total is None else total + term
        if total is None:
            raise ValueError("ModalityHeads needs at least one modality")
        return self.weight * total / (len(self.heads) * max(denominator, 1e-12))

    def __repr__(self) -> str:
        return f"{self.__class__.__name__}({list(self.heads)}, weight={self.weight})"
