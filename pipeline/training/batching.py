"""How one epoch walks the graph: full batch, precomputed SIGN hops, or PyG's NeighborLoader.

Each runner yields training batches (inputs, which output rows to score, their labels and the
loss denominator) and evaluates logits for any set of nodes, so the loop does not care which.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import torch
from torch import Tensor, nn
from torch_geometric.data import Data

from pipeline.device import to_device
from pipeline.models.propagation import gather_hops, precompute_hops
from pipeline.training.distributed import DistContext


def neighbor_sampling_available() -> bool:
    """PyG's NeighborLoader needs a compiled sampler: pyg-lib or torch-sparse."""
    import torch_geometric.typing as pyg_typing

    return bool(pyg_typing.WITH_PYG_LIB or pyg_typing.WITH_TORCH_SPARSE)


def resolve_batching(batching: str, num_nodes: int, threshold: int, backbone: str) -> str:
    """``full``, ``sign`` or ``neighbor``. ``auto``: full batch up to ``threshold`` nodes, then
    NeighborLoader if a sampler is installed, else precomputed SIGN hops. The sign backbone
    always trains on its precomputed hops."""
    if backbone == "sign":
        return "sign"
    if batching == "neighbor" and not neighbor_sampling_available():
        raise ValueError("train.batching=neighbor needs pyg-lib or torch-sparse; install one or use sign")
    if batching != "auto":
        return batching
    if num_nodes <= threshold:
        return "full"
    return "neighbor" if neighbor_sampling_available() else "sign"


@dataclass
class Batch:
    xs: dict[str, Tensor]
    masks: dict[str, Tensor]
    edge_index: Tensor | None
    rows: Tensor | None  # output rows to score; None = all rows
    y: Tensor
    weight_sum: float  # the loss denominator: sum of the scored nodes' class weights


def _modalities(model: nn.Module) -> list[str]:
    return getattr(model, "module", model).modalities


class FullBatch:
    """The whole graph on the device; one step per epoch over this process's training nodes."""

    def __init__(
        self, model: nn.Module, data: Data, device: torch.device, train_idx: Tensor, weights: Tensor, ctx: DistContext
    ) -> None:
        names = _modalities(model)
        self.xs = {m: to_device(data[f"x_{m}"], device) for m in names}
        self.masks = {m: to_device(data[f"mask_{m}"], device) for m in names}
        self.edge_index = to_device(data.edge_index, device)
        self.y = to_device(data.y, device)
        # Shards partition the training nodes; every shard divides by the global weight sum
        # over world_size, so DDP's mean of the gradients is the single-process gradient.
        self.rows = to_device(train_idx[ctx.rank :: ctx.world_size], device)
        self.weight_sum = float(weights[data.y[train_idx]].sum()) / ctx.world_size
        self.num_train = int(self.rows.numel())

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        yield Batch(self.xs, self.masks, self.edge_index, self.rows, self.y[self.rows], self.weight_sum)

    def logits(self, model: nn.Module, index: list[Tensor]) -> list[Tensor]:
        out = model(self.xs, self.masks, self.edge_index)
        return [out[i.to(out.device)] for i in index]


class SignBatches:
    """Hops propagated once on the CPU (in the features' dtype), then shuffled node mini-batches."""

    def __init__(
        self,
        model: nn.Module,
        data: Data,
        device: torch.device,
        train_idx: Tensor,
        weights: Tensor,
        ctx: DistContext,
        *,
        hops: int,
        batch_size: int,
        seed: int,
    ) -> None:
        names = _modalities(model)
        self.hop_xs, self.hop_masks = precompute_hops(
            {m: data[f"x_{m}"] for m in names}, {m: data[f"mask_{m}"] for m in names}, data.edge_index, hops
        )
        self.y, self.weights, self.device = data.y, weights, device
        self.train_idx, self.batch_size, self.seed, self.ctx = train_idx, batch_size, seed, ctx
        self.num_train = train_idx.numel() // ctx.world_size

    def _inputs(self, index: Tensor) -> tuple[dict[str, Tensor], dict[str, Tensor]]:
        xs = {m: to_device(v, self.device) for m, v in gather_hops(self.hop_xs, index).items()}
        masks = {m: to_device(v.index_select(0, index), self.device) for m, v in self.hop_masks.items()}
        return xs, masks

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        # The order depends on (seed, epoch) only, so a resumed run draws the same batches and
        # every rank the same permutation; equal shards keep DDP's ranks in step.
        order = torch.Generator().manual_seed(self.seed * 1_000_003 + epoch)
        perm = self.train_idx[torch.randperm(self.train_idx.numel(), generator=order)]
        per_rank = perm.numel() // self.ctx.world_size
        shard = perm[self.ctx.rank :: self.ctx.world_size][:per_rank]
        for start in range(0, shard.numel(), self.batch_size):
            index = shard[start : start + self.batch_size]
            xs, masks = self._inputs(index)
            y = self.y.index_select(0, index)
            yield Batch(xs, masks, None, None, to_device(y, self.device), float(self.weights[y].sum()))

    def logits(self, model: nn.Module, index: list[Tensor]) -> list[Tensor]:
        out = []
        for nodes in index:
            parts = [
                model(*self._inputs(nodes[s : s + self.batch_size]), None)
                for s in range(0, nodes.numel(), self.batch_size)
            ]
            out.append(torch.cat(parts) if parts else torch.empty(0, device=self.device))
        return out


class NeighborBatches:
    """PyG's NeighborLoader (``fanout`` neighbours per layer) for training; evaluation full batch."""

    def __init__(
        self,
        model: nn.Module,
        data: Data,
        device: torch.device,
        train_idx: Tensor,
        weights: Tensor,
        ctx: DistContext,
        *,
        num_layers: int,
        fanout: int,
        batch_size: int,
    ) -> None:
        from torch_geometric.loader import NeighborLoader

        self.names = _modalities(model)
        self.device, self.weights = device, weights
        per_rank = train_idx.numel() // ctx.world_size
        shard = train_idx[ctx.rank :: ctx.world_size][:per_rank]
        self.num_train = per_rank
        self.loader = NeighborLoader(
            data,
            num_neighbors=[fanout] * num_layers,
            input_nodes=shard,
            batch_size=batch_size,
            shuffle=True,
            pin_memory=device.type == "cuda",
        )
        self.full = FullBatch(model, data, device, train_idx, weights, DistContext())

    def train_batches(self, epoch: int) -> Iterator[Batch]:
        for sub in self.loader:
            size = sub.batch_size
            xs = {m: sub[f"x_{m}"].to(self.device, non_blocking=True) for m in self.names}
            masks = {m: sub[f"mask_{m}"].to(self.device, non_blocking=True) for m in self.names}
            y = sub.y[:size]
            rows = torch.arange(size, device=self.device)
            yield Batch(
                xs, masks, sub.edge_index.to(self.device), rows, y.to(self.device), float(self.weights[y].sum())
            )

    def logits(self, model: nn.Module, index: list[Tensor]) -> list[Tensor]:
        return self.full.logits(model, index)
