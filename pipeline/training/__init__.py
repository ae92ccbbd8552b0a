"""Training: device and precision, batching methods, DDP, checkpoints and the loop.

The names below load on first use (PEP 562): a preprocess stage that only asks for
``resolve_device`` must not pay for importing PyG and the training loop (seconds per stage process).
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from pipeline.device import resolve_device, seed_everything, threads_for_data
    from pipeline.training.distributed import process_group
    from pipeline.training.loop import TrainResult, predict_logits, train_node_classifier
    from pipeline.training.options import MONITORS, TrainOptions, options_from

#: Full module names, so ``graphfuse dvc-deps`` counts them as imports of this package (they are, on use).
_HOMES = {
    "pipeline.device": ("resolve_device", "seed_everything", "threads_for_data"),
    "pipeline.training.distributed": ("process_group",),
    "pipeline.training.loop": ("TrainResult", "predict_logits", "train_node_classifier"),
    "pipeline.training.options": ("MONITORS", "TrainOptions", "options_from"),
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


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
