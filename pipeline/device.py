"""Where to train, in which precision, and making runs repeatable."""

from __future__ import annotations

import random
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from typing import Any

import numpy as np
import torch
from torch import Tensor


def resolve_device(requested: str = "auto") -> torch.device:
    """``auto`` takes the GPU when there is one; asking for CUDA without one is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    device = torch.device(requested)
    if device.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError(f"device {requested!r} was asked for, but no CUDA GPU is available")
    return device


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and torch (all devices). Scatter on CUDA stays nondeterministic."""
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)


def autocast_dtype(precision: str, device: torch.device) -> torch.dtype | None:
    """The autocast dtype, or ``None`` for plain float32.

    ``auto`` is float32 on CPU (autocast there is slower for these small layers) and on CUDA
    bfloat16 where the GPU has it, else float16 (with a gradient scaler).
    """
    if precision == "fp32":
        return None
    if precision == "auto":
        if device.type != "cuda":
            return None
        return torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    if precision == "fp16" and device.type != "cuda":
        raise ValueError("precision fp16 needs a CUDA device; use bf16 or fp32 on CPU")
    return torch.bfloat16 if precision == "bf16" else torch.float16


def to_device(tensor: Tensor, device: torch.device) -> Tensor:
    """Copy to ``device``; to a GPU through pinned memory, without blocking the host."""
    if device.type == "cuda" and tensor.device.type == "cpu":
        return tensor.pin_memory().to(device, non_blocking=True)
    return tensor.to(device)


#: Below this many feature values (nodes x summed embedding dims) a graph trains on one thread.
SMALL_GRAPH_VALUES = 10_000_000


@contextmanager
def threads_for_graph(values: int, device: torch.device) -> Iterator[None]:
    """One intra-op thread for a small graph on CPU, restored afterwards.

    Splitting a few-hundred-row matmul across cores costs more in synchronisation than it
    saves; on a shared machine, threads waiting for a busy core made countries' epochs ~25x
    slower (measured: 24 ms on one thread, 770 ms on two, under load).
    """
    before = torch.get_num_threads()
    if device.type != "cpu" or values > SMALL_GRAPH_VALUES or before == 1:
        yield
        return
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(before)


def threads_for_data(data: Any, device: torch.device) -> AbstractContextManager[None]:
    """:func:`threads_for_graph` sized by the graph's feature values (``x_*`` tensors)."""
    values = data.num_nodes * sum(int(data[k].size(-1)) for k in data.keys() if k.startswith("x_"))
    return threads_for_graph(values, device)
