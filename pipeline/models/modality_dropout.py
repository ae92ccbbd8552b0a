"""Modality dropout: hide a node's modality during training so the model learns to do without."""

from __future__ import annotations

from collections.abc import Mapping

import torch
from torch import Tensor


def drop_modalities(masks: Mapping[str, Tensor], p: float, *, training: bool) -> dict[str, Tensor]:
    r"""Zero each (node, modality) mask entry with probability ``p``, never a node's last one.

    .. math::
        \tilde m_{i,m} = m_{i,m} \cdot b_{i,m}, \quad b_{i,m} \sim \mathrm{Bernoulli}(1 - p),
        \qquad \tilde{\mathbf m}_i = \mathbf m_i \text{ if } \textstyle\sum_m \tilde m_{i,m} = 0

    A node that would lose every modality keeps its own, so no training node turns into pure
    noise. With precomputed propagation (masks of shape ``[N, hops + 1]``) only hop 0, the
    node's own modality, is dropped: its neighbours still have theirs, as at prediction time
    when one node arrives without an image. Uses torch's global RNG, so a seed repeats it.

    Shapes:
        - masks: ``{modality: (N,) or (N, K+1)}`` bool; returns the same shapes.
    """
    if not training or p <= 0:
        return dict(masks)
    names = sorted(masks)
    own = torch.stack([_own(masks[m]).bool() for m in names], dim=-1)  # [N, M]
    keep = torch.rand(own.shape, device=own.device) >= p
    dropped = own & keep
    lost_all = ~dropped.any(dim=-1, keepdim=True)
    dropped = torch.where(lost_all, own, dropped)
    out = {}
    for j, m in enumerate(names):
        mask = masks[m]
        if mask.dim() == 2:
            mask = mask.clone()
            mask[:, 0] = dropped[:, j].to(mask.dtype)
        else:
            mask = dropped[:, j].to(mask.dtype)
        out[m] = mask
    return out


def _own(mask: Tensor) -> Tensor:
    return mask[:, 0] if mask.dim() == 2 else mask
