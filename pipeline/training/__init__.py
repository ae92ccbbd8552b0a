"""Training: device and precision, batching methods, DDP, checkpoints and the loop.

The names below load on first use (PEP 562): a preprocess stage that only asks for
``resolve_device`` must not pay for importing PyG and the training loop (seconds per stage process).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from pipeline.device import resolve_device, seed_everything, threads_for_data
    from pipeline.training.distributed import process_group
    from pipeline.training.loop import TrainResult, predict_logits, train_node_classifier
    from pipeline.training.options import MONITORS, TrainOptions, options_from

_HOME = {
    "MONITORS": "pipeline.training.options",
    "options_from": "pipeline.training.options",
    "TrainOptions": "pipeline.training.options",
    "TrainResult": "pipeline.training.loop",
    "predict_logits": "pipeline.training.loop",
    "process_group": "pipeline.training.distributed",
    "resolve_device": "pipeline.device",
    "seed_everything": "pipeline.device",
    "threads_for_data": "pipeline.device",
    "train_node_classifier": "pipeline.training.loop",
}

__all__ = [
    "MONITORS",
    "options_from",
    "TrainOptions",
    "TrainResult",
    "predict_logits",
    "process_group",
    "resolve_device",
    "seed_everything",
    "threads_for_data",
    "train_node_classifier",
]


def __getattr__(name: str) -> Any:
    """Import the submodule that defines ``name`` on first use, then keep the name here."""
    if name not in _HOME:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(_HOME[name]), name)
    globals()[name] = value
    return value
