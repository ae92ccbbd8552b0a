"""How to train, as one typed value the stage fills from ``params.yaml``'s ``train`` section."""

from __future__ import annotations

from dataclasses import dataclass, fields
from typing import Any, Literal

MONITORS = ("val_loss", "val_accuracy", "val_macro_f1")


@dataclass(frozen=True)
class TrainOptions:
    """Optimiser, schedule, batching and checkpoint settings; defaults suit a graph of hundreds of nodes."""

    lr: float = 0.005
    weight_decay: float = 5e-4
    max_epochs: int = 300
    patience: int = 40
    monitor: str = "val_loss"
    seed: int = 0
    scheduler: Literal["none", "plateau", "cosine"] = "plateau"
    class_weights: Literal["none", "balanced"] = "none"
    grad_clip: float = 1.0
    precision: Literal["auto", "fp32", "bf16", "fp16"] = "auto"
    batching: Literal["auto", "full", "sign", "neighbor"] = "auto"
    minibatch_threshold: int = 200_000
    batch_size: int = 4096
    fanout: int = 10
    checkpoint_every: int = 0
    # Correct & Smooth after training (pipeline/training/correct_and_smooth.py): off | auto | a strength
    smoothing: str | float = "off"
    smoothing_layers: int = 50
    smoothing_correct: bool = False

    def __post_init__(self) -> None:
        if self.monitor not in MONITORS:
            raise ValueError(f"monitor must be one of {MONITORS}, not {self.monitor!r}")
        if self.smoothing not in ("off", "auto") and not 0 <= float(self.smoothing) < 1:
            raise ValueError(f"smoothing must be off, auto or a strength in [0, 1), not {self.smoothing!r}")


def options_from(settings: Any, **overrides: Any) -> TrainOptions:
    """The options named in ``settings`` (params.yaml's ``train`` section), then ``overrides``:
    the train stage and every retraining (spread, ablation) build them the same way."""
    values = {f.name: getattr(settings, f.name) for f in fields(TrainOptions) if hasattr(settings, f.name)}
    return TrainOptions(**(values | overrides))
