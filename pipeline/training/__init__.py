"""Training: device and precision, batching methods, DDP, checkpoints and the loop."""

from pipeline.training.device import resolve_device, seed_everything, threads_for_data
from pipeline.training.distributed import process_group
from pipeline.training.loop import TrainResult, predict_logits, train_node_classifier
from pipeline.training.options import MONITORS, TrainOptions, options_from

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
