"""Precomputed neighbourhood averaging (SIGN/SGC style): sparse matmul, no compiled extension.

Propagating the raw embeddings once, before training, turns a graph problem into one over
independent rows, which trains in node mini-batches of any size on any machine.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping

import torch
from torch import Tensor
from torch_geometric.utils import coalesce


def adjacency(edge_index: Tensor, num_nodes: int) -> Tensor:
    """Binary adjacency as sparse CSR, row ``i`` holding the sources of edges into ``i``
    (PyG's ``source -> target`` flow); duplicate edges count once."""
    # Sort by target row (then source), dropping repeats: CSR's layout, no sparse COO detour.
    rows, cols = coalesce(edge_index.flip(0), num_nodes=num_nodes)
    crow = torch.zeros(num_nodes + 1, dtype=torch.long, device=edge_index.device)
    crow[1:] = torch.cumsum(torch.bincount(rows, minlength=num_nodes), dim=0)
    values = torch.ones(cols.numel(), dtype=torch.float32, device=edge_index.device)
    with warnings.catch_warnings():  # "sparse CSR support is in beta": sparse.mm on CSR is what we use
        warnings.simplefilter("ignore", UserWarning)
        return torch.sparse_csr_tensor(crow, cols, values, (num_nodes, num_nodes), check_invariants=False)


def propagate_masked(
    x: Tensor, mask: Tensor, adj: Tensor, hops: int, *, chunk: int = 256
) -> tuple[list[Tensor], list[Tensor]]:
    r"""The mean over neighbours that have the modality, hop after hop.

    .. math::
        \mathbf{x}_i^{(k+1)} = \frac{\sum_j A_{ij}\, m_j^{(k)} \mathbf{x}_j^{(k)}}
            {\sum_j A_{ij}\, m_j^{(k)}}, \qquad
        m_i^{(k+1)} = \mathbb{1}\Big[\textstyle\sum_j A_{ij}\, m_j^{(k)} > 0\Big]

    with :math:`\mathbf{x}^{(0)} = \mathbf{x}` and :math:`m^{(0)}` the modality mask, so a
    neighbour without the modality never dilutes the average. Work is done in float32 over
    ``chunk`` columns at a time and stored in ``x``'s dtype (float16 stays float16), which
    bounds the extra memory to two ``[N, chunk]`` blocks.

    Shapes:
        - x: :math:`(N, F)`, mask: :math:`(N,)`, adj: :math:`(N, N)` sparse CSR.
        - returns ``hops + 1`` tensors :math:`(N, F)` (the first is ``x`` itself) and
          ``hops + 1`` bool masks :math:`(N,)`.
    """
    xs, masks = [x], [mask.bool()]
    for _ in range(hops):
        present = masks[-1].to(torch.float32)
        counts = torch.sparse.mm(adj, present.unsqueeze(1)).squeeze(1)
        scale = torch.where(counts > 0, 1.0 / counts.clamp(min=1.0), torch.zeros_like(counts)).unsqueeze(1)
        previous = xs[-1]
        out = torch.empty_like(previous)
        for start in range(0, previous.size(1), chunk):
            block = previous[:, start : start + chunk].to(torch.float32) * present.unsqueeze(1)
            out[:, start : start + chunk] = (torch.sparse.mm(adj, block) * scale).to(out.dtype)
        xs.append(out)
        masks.append(counts > 0)
    return xs, masks


def precompute_hops(
    xs: Mapping[str, Tensor], masks: Mapping[str, Tensor], edge_index: Tensor, hops: int
) -> tuple[dict[str, list[Tensor]], dict[str, Tensor]]:
    """Every modality propagated ``hops`` times; masks come back stacked as ``[N, hops + 1]``."""
    num_nodes = next(iter(masks.values())).size(0)
    adj = adjacency(edge_index, num_nodes)
    hop_xs, hop_masks = {}, {}
    for m in sorted(xs):
        hop_xs[m], mask_list = propagate_masked(xs[m], masks[m], adj, hops)
        hop_masks[m] = torch.stack(mask_list, dim=1)
    return hop_xs, hop_masks


def gather_hops(hop_xs: Mapping[str, list[Tensor]], index: Tensor) -> dict[str, Tensor]:
    """Rows ``index`` of every hop as ``{modality: [B, hops + 1, F]}``."""
    return {m: torch.stack([h.index_select(0, index) for h in hops], dim=1) for m, hops in hop_xs.items()}
