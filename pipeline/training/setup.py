"""A node-classification run's fixed parts, set up once before the first epoch: the splits checked,
the batching chosen, the data on the device, the class weights and the optimiser."""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any

import torch
from torch import Tensor, nn
from torch.nn.parallel import DistributedDataParallel
from torch_geometric.data import Data

from pipeline.device import autocast_dtype, to_device
from pipeline.training.batching import FullBatch, NeighborBatches, SignBatches, resolve_batching
from pipeline.training.distributed import DistContext
from pipeline.training.objective import class_weights, lr_scheduler
from pipeline.training.options import TrainOptions


@dataclass
class NodeRun:
    """One training run's fixed parts: the data on the device, the batches, the optimiser."""

    model: nn.Module
    net: nn.Module  # the model, or its DDP wrapper
    data: Data
    device: torch.device
    options: TrainOptions
    num_classes: int
    batching: str
    runner: FullBatch | SignBatches | NeighborBatches
    train_idx: Tensor
    val_idx: Tensor
    weights: Tensor  # class weights, on the device
    y_train: Tensor
    y_val: Tensor
    val_weight_sum: float
    optimizer: torch.optim.Optimizer
    scheduler: Any
    amp: torch.dtype | None
    scaler: torch.amp.GradScaler
    prepare_seconds: float

    def autocast(self) -> torch.autocast:
        return torch.autocast(self.device.type, dtype=self.amp or torch.float32, enabled=self.amp is not None)


def set_up(
    model: nn.Module, data: Data, num_classes: int, device: torch.device, options: TrainOptions, ctx: DistContext
) -> NodeRun:
    """Check the splits, choose the batching, move the data and build the optimiser."""
    y = data.y
    train_idx = data.train_mask.nonzero().flatten()
    val_idx = data.val_mask.nonzero().flatten()
    if train_idx.numel() == 0 or val_idx.numel() == 0:
        raise ValueError("training needs labelled nodes in both the train and the val split")
    backbone = "sign" if getattr(model, "hops", None) is not None else "graph"
    batching = resolve_batching(options.batching, data.num_nodes, options.minibatch_threshold, backbone)
    if batching == "sign" and backbone != "sign":
        raise ValueError("sign batching needs a model built with backbone=sign (precomputed hops)")

    model = model.to(device)
    net: nn.Module = model
    if ctx.world_size > 1:
        net = DistributedDataParallel(model, device_ids=[device.index] if device.type == "cuda" else None)
    weights = class_weights(y, train_idx, num_classes, options.class_weights)
    started = time.perf_counter()
    common = (model, data, device, train_idx, weights, ctx)
    runner: FullBatch | SignBatches | NeighborBatches
    if batching == "full":
        runner = FullBatch(*common)
    elif batching == "sign":
        runner = SignBatches(*common, hops=model.hops, batch_size=options.batch_size, seed=options.seed)
    else:
        layers = getattr(getattr(model, "backbone", None), "num_layers", 2)
        runner = NeighborBatches(*common, num_layers=layers, fanout=options.fanout, batch_size=options.batch_size)
    prepare_seconds = time.perf_counter() - started
    optimizer = torch.optim.AdamW(model.parameters(), lr=options.lr, weight_decay=options.weight_decay)
    amp = autocast_dtype(options.precision, device)
    return NodeRun(
        model=model,
        net=net,
        data=data,
        device=device,
        options=options,
        num_classes=num_classes,
        batching=batching,
        runner=runner,
        train_idx=train_idx,
        val_idx=val_idx,
        weights=weights.to(device),
        # The epoch's figures are computed where the logits are and read back in one transfer.
        y_train=to_device(y[train_idx], device),
        y_val=to_device(y[val_idx], device),
        val_weight_sum=float(weights[y[val_idx]].sum()),
        optimizer=optimizer,
        scheduler=lr_scheduler(optimizer, options),
        amp=amp,
        scaler=torch.amp.GradScaler(device.type, enabled=amp == torch.float16),
        prepare_seconds=prepare_seconds,
    )
