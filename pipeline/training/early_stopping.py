"""Early stopping, one rule for every task: keep the weights of the best epoch by a score (higher
is better; a sequence compares its ties by the next figure) and stop ``patience`` epochs after the
last improvement. The node loop (:mod:`.loop`) and the link loop
(:mod:`pipeline.tasks.link.train`) both use it."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from torch import Tensor, nn


@dataclass
class EarlyStopping:
    patience: int
    keep_on_cpu: bool = False  # copy the best weights to the CPU at once (else on the device, moved at the end)
    best_score: Sequence[float] | None = None
    best_epoch: int = 0
    best_state: dict[str, Tensor] | None = None

    def update(self, epoch: int, score: Sequence[float], model: nn.Module) -> bool:
        """Record ``epoch``'s score; keep a copy of ``model``'s weights when it is the best so far."""
        if self.best_score is not None and not score > self.best_score:  # type: ignore[operator]
            return False
        self.best_score, self.best_epoch = score, epoch
        if self.keep_on_cpu:
            self.best_state = {k: v.detach().cpu().clone() for k, v in model.state_dict().items()}
        else:
            self.best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
        return True

    def should_stop(self, epoch: int) -> bool:
        """Whether ``patience`` epochs have passed since the best one, as of ``epoch``."""
        return epoch - self.best_epoch >= self.patience

    def best_weights(self) -> dict[str, Tensor]:
        """The best epoch's weights, on the CPU."""
        assert self.best_state is not None  # the first epoch always counts as an improvement
        return {k: v.cpu() for k, v in self.best_state.items()}
