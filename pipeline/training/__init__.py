"""Training: device choice, seeding and the full-batch loop with early stopping."""

from pipeline.training.device import resolve_device, seed_everything
from pipeline.training.loop import TrainResult, predict_logits, train_node_classifier

__all__ = ["TrainResult", "predict_logits", "resolve_device", "seed_everything", "train_node_classifier"]
