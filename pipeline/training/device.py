"""Where to train, and making runs repeatable."""

from __future__ import annotations

import random

import numpy as np
import torch


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
