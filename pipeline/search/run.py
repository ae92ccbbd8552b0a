"""The search from end to end, for the train stage: folds, study, ensemble, smoothing strength.

Reads only the train and val labels (:func:`~pipeline.search.folds.without_test_labels`); the
result is a configuration (an ensemble of members with weights and a smoothing strength) and a
report of the selection scores, both written by the train stage.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import optuna
import torch
from torch_geometric.data import Data

from pipeline.models import FusionModelConfig
from pipeline.models.config import EnsembleMember
from pipeline.search.cross_fit import cross_fit
from pipeline.search.ensemble import greedy_ensemble, selection_score
from pipeline.search.folds import Fold, out_of_fold, scored_nodes, selection_folds, without_test_labels
from pipeline.search.settings import SearchSettings, search_settings
from pipeline.search.smoothing import choose_strength
from pipeline.search.space import MODEL_KEYS, RECIPE_KEYS, SearchSpace
from pipeline.search.study import FinishedTrial, finished_trials, open_study, probs_dir, run_study
from pipeline.training import options_from

#: Epochs between the pruner's looks at a curve (each look is a write to the study's database).
PRUNE_EVERY = 5
#: ``(trial number, its params, its metrics, its state)`` -> logged (an MLflow child run).
TrialCallback = Callable[[int, dict[str, Any], dict[str, float], str], None]
#: Settings a trial's outcome does not depend on: changing them resumes the same study.
NOT_IN_STUDY = (
    "search",
    "search_trials",
    "search_seconds",
    "search_top",
    "search_rounds",
    "search_storage",
    "device",
    "checkpoint_every",
    "smoothing",
    "smoothing_layers",
    "smoothing_correct",
)


@dataclass
class SearchOutcome:
    config: FusionModelConfig  # the ensemble to train and register
    report: dict[str, Any]  # metrics/search.json


def study_name(graph_digest: str, train: Any, mode: str) -> str:
    values = train.model_dump(exclude=set(NOT_IN_STUDY))
    blob = json.dumps([graph_digest, mode, values], sort_keys=True, default=str)
    return "graphfuse-" + hashlib.sha256(blob.encode()).hexdigest()[:16]


def search_ensemble(
    base: FusionModelConfig,
    train: Any,
    data: Data,
    *,
    device: torch.device,
    graph_digest: str,
    on_trial: TrialCallback | None = None,
) -> SearchOutcome:
    """Search within ``train``'s budget around ``base`` (params.yaml's model); return the ensemble
    and the report. ``graph_digest`` names the graph, so a changed graph starts a new study."""
    settings = search_settings(train)
    view = without_test_labels(data)
    folds, mode = selection_folds(view, folds=settings.folds, cv_below=settings.cv_below, seed=train.seed)
    space = SearchSpace(sorted(base.modality_dims), train.model_dump())
    name = study_name(graph_digest, train, mode)
    study = open_study(settings, name, train.seed, space.baselines())
    folder = probs_dir(settings, name)
    scored = scored_nodes(folds)
    options = options_from(train, checkpoint_every=0, smoothing="off")

    def objective(trial: optuna.Trial) -> tuple[torch.Tensor, float]:
        candidate = space.suggest(trial)

        def judge(epoch: int, row: dict[str, float]) -> None:
            if epoch % PRUNE_EVERY:
                return
            trial.report(row["val_accuracy"], epoch)
            if trial.should_prune():
                raise optuna.TrialPruned()

        recipe = dataclasses.replace(options, **candidate.recipe)
        fold_probs = cross_fit(candidate.config(base), view, folds, recipe, device=device, on_epoch=judge)
        return fold_probs, selection_score(out_of_fold(fold_probs, folds)[scored], view.y[scored])[0]

    def logged(frozen: optuna.trial.FrozenTrial) -> None:
        if on_trial is not None:
            metrics = {"selection_score": frozen.value} if frozen.value is not None else {}
            on_trial(frozen.number, dict(frozen.params), metrics, frozen.state.name)

    seconds = run_study(study, settings, objective, folder, on_trial=logged)
    finished = finished_trials(study, folder)
    if not finished:
        raise ValueError(f"the search finished no trial within {settings.seconds:g} s; raise train.search_seconds")
    config, report = _ensemble_of(base, train, view, folds, space, finished, settings)
    return SearchOutcome(config, {"selection": mode, "study": name, "search_seconds": round(seconds, 1)} | report)


def _ensemble_of(
    base: FusionModelConfig,
    train: Any,
    view: Data,
    folds: list[Fold],
    space: SearchSpace,
    finished: list[FinishedTrial],
    settings: SearchSettings,
) -> tuple[FusionModelConfig, dict[str, Any]]:
    scored = scored_nodes(folds)
    top = finished[: settings.top]
    oofs = [out_of_fold(t.fold_probs, folds)[scored] for t in top]
    weights = greedy_ensemble(oofs, view.y[scored], settings.rounds)
    order = sorted(weights, key=lambda i: (-weights[i], top[i].number))  # heaviest first
    mixtures = [sum(weights[i] * top[i].fold_probs[f] for i in order) for f in range(len(folds))]
    alpha, alpha_scores = choose_strength(mixtures, view, folds, train.smoothing_layers, train.smoothing_correct)
    if train.smoothing == "off":
        alpha = 0.0
    elif train.smoothing != "auto":
        alpha = float(train.smoothing)
    members = []
    for i in order:
        candidate = space.candidate(top[i].params)
        member = EnsembleMember(
            config=candidate.config(base), weight=weights[i], recipe=candidate.recipe, name=f"trial-{top[i].number}"
        )
        members.append(member)
    dims = {m: d for member in members for m, d in member.config.modality_dims.items()}
    config = FusionModelConfig(
        **base.model_dump(exclude={"members"})
        | {"architecture": "ensemble", "members": tuple(members), "modality_dims": dims, "smoothing_alpha": alpha}
    )
    return config, selection_report(finished, members, alpha, alpha_scores, settings)


def _best(finished: list[FinishedTrial], keep: Callable[[dict], bool]) -> dict[str, Any] | None:
    for trial in finished:  # best first
        if keep(trial.params):
            return {"trial": trial.number, "score": trial.value, **_summary(trial.params)}
    return None


def _summary(params: dict[str, Any]) -> dict[str, Any]:
    return {k: params[k] for k in ("modalities", *MODEL_KEYS, *RECIPE_KEYS) if k in params}


def selection_report(
    finished: list[FinishedTrial],
    members: list[EnsembleMember],
    alpha: float,
    alpha_scores: dict[str, float],
    settings: SearchSettings,
) -> dict[str, Any]:
    """The proof that the choice never loses to its parts, on the selection score (accuracy on the
    scored nodes): the best single-modality candidate, the best no-graph one, the best of all,
    the ensemble before and after smoothing."""
    return {
        "trials_completed": len(finished),
        "budget": {"trials": settings.trials, "seconds": settings.seconds, "folds": settings.folds},
        "best_single_modality": _best(finished, lambda p: p["modalities"].startswith("only:")),
        "best_no_graph": _best(finished, lambda p: p["backbone"] == "mlp"),
        "best_candidate": _best(finished, lambda p: True),
        "ensemble_score": alpha_scores["0"],
        "smoothing_alpha": alpha,
        "smoothing_scores": alpha_scores,
        "final_score": alpha_scores.get(f"{alpha:g}"),  # None: a fixed train.smoothing off the grid
        "members": [{"name": m.name, "weight": round(m.weight, 4)} for m in members],
    }
