"""What the train stage calls with ``train.search: auto``: search, then train the chosen ensemble.

The result looks like a single model's training result (the first, heaviest member's curve),
so the stage logs, saves and registers it as it does any model; its ``config_update`` turns the
stage's model into the ensemble.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import torch
from torch_geometric.data import Data

from pipeline.models import FusionModelConfig
from pipeline.search.run import TrialCallback, search_ensemble
from pipeline.training import TrainResult
from pipeline.training.refit import EpochCallback, fit_ensemble


@dataclass
class SearchedResult(TrainResult):
    ensemble: FusionModelConfig | None = None
    report: dict[str, Any] = field(default_factory=dict)

    def config_update(self) -> dict:
        """Every field of the ensemble's config (members, weights, smoothing strength)."""
        assert self.ensemble is not None
        return {name: getattr(self.ensemble, name) for name in type(self.ensemble).model_fields}


def search_and_fit(
    base: FusionModelConfig,
    train: Any,
    data: Data,
    *,
    device: torch.device,
    graph_digest: str,
    on_trial: TrialCallback | None = None,
    on_report: Callable[[dict[str, Any]], None] | None = None,
    on_epoch: EpochCallback | None = None,
) -> SearchedResult:
    """The search (once), then each member trained on the pipeline's split with ``train.seed``."""
    outcome = search_ensemble(base, train, data, device=device, graph_digest=graph_digest, on_trial=on_trial)
    ensemble, results = fit_ensemble(outcome.config, data, train, seed=train.seed, device=device, on_epoch=on_epoch)
    trained = [
        {"name": m.name, "weight": round(m.weight, 4), "best_epoch": r.best_epoch, "epochs_run": r.epochs_run}
        for m, r in zip(outcome.config.members, results, strict=True)
    ]
    report = outcome.report | {"members": trained}
    if on_report is not None:
        on_report(report)
    lead = results[0]
    return SearchedResult(
        state_dict={k: v.detach().cpu() for k, v in ensemble.state_dict().items()},
        best_epoch=lead.best_epoch,
        epochs_run=lead.epochs_run,
        monitor=lead.monitor,
        history=lead.history,
        batching=lead.batching,
        smoothing=ensemble.smoothing,
        smoothing_scores=outcome.report["smoothing_scores"],
        ensemble=outcome.config,
        report=report,
    )
