"""Multi-process data parallel training under ``torchrun`` (gloo on CPU, NCCL on GPU).

``torchrun --nproc_per_node=K`` starts K copies with ``RANK``/``WORLD_SIZE``/``LOCAL_RANK`` set;
each holds the whole (small or precomputed) graph, trains on its share of the training nodes,
and DDP averages the gradients, so the K processes step like one that saw every node.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class DistContext:
    rank: int = 0
    world_size: int = 1

    @property
    def is_main(self) -> bool:
        return self.rank == 0


def current() -> DistContext:
    """The running process group's rank and size, or a single process."""
    if dist.is_available() and dist.is_initialized():
        return DistContext(dist.get_rank(), dist.get_world_size())
    return DistContext()


def launched_by_torchrun() -> bool:
    return int(os.environ.get("WORLD_SIZE", "1")) > 1


@contextmanager
def process_group(device: torch.device) -> Iterator[tuple[DistContext, torch.device]]:
    """Join torchrun's process group for the duration (a no-op for a single process).

    On CUDA each process takes the GPU ``LOCAL_RANK`` and talks NCCL; on CPU, gloo.
    """
    if not launched_by_torchrun() or dist.is_initialized():
        yield current(), device
        return
    if device.type == "cuda":
        device = torch.device("cuda", int(os.environ.get("LOCAL_RANK", "0")))
        torch.cuda.set_device(device)
    dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    try:
        yield current(), device
    finally:
        dist.destroy_process_group()
