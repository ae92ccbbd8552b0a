"""Optuna's study, stored so that a killed search resumes: trials finished before are kept, with
their fold probabilities beside the study (safetensors), and only the rest of the budget runs.

The study's name is a digest of everything that decides a trial's outcome (the graph, the folds,
the recipe, the space); change one and a new study starts, the old one stays in the file.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import optuna
from safetensors.torch import load_file, save_file
from torch import Tensor

from pipeline.search.settings import SearchSettings

#: Trials that spend the budget; a trial killed mid-run (RUNNING in the file) is marked failed.
COUNTED = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED)


@dataclass
class FinishedTrial:
    number: int
    params: dict[str, Any]
    value: float
    fold_probs: Tensor  # [F, N, C]


def storage_url(storage: str) -> str | None:
    """A database URL as given, ``None`` (Optuna's memory: no resuming) for '', else a path to a
    SQLite file (its folder made)."""
    if not storage:
        return None
    if "://" in storage:
        return storage
    path = Path(storage).resolve()
    path.parent.mkdir(parents=True, exist_ok=True)
    return f"sqlite:///{path}"


def probs_dir(settings: SearchSettings, study_name: str) -> Path:
    """Where a study's fold probabilities live: beside a SQLite file, else in .cache."""
    in_file = settings.storage and "://" not in settings.storage
    root = Path(settings.storage).parent if in_file else Path(".cache/graphfuse/search")
    return root / study_name


def open_study(settings: SearchSettings, name: str, seed: int, baselines: list[dict]) -> optuna.Study:
    """Create or resume the study; a new one gets the baselines enqueued first."""
    optuna.logging.set_verbosity(logging.WARNING)
    study = optuna.create_study(
        study_name=name,
        storage=storage_url(settings.storage),
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=seed, n_startup_trials=max(len(baselines), 5)),
        # A candidate whose first-fold validation curve sits below the median of the trials so far
        # at the same epoch stops there; the baselines (startup trials) always finish.
        pruner=optuna.pruners.MedianPruner(n_startup_trials=len(baselines), n_warmup_steps=10),
        load_if_exists=True,
    )
    trials = study.get_trials(deepcopy=False)
    for trial in trials:
        if trial.state == optuna.trial.TrialState.RUNNING:  # left by a killed search
            study.tell(trial.number, state=optuna.trial.TrialState.FAIL)
    if not trials:
        for params in baselines:
            study.enqueue_trial(params)
    return study


def run_study(
    study: optuna.Study,
    settings: SearchSettings,
    objective: Callable[[optuna.Trial], tuple[Tensor, float]],
    folder: Path,
    on_trial: Callable[[optuna.trial.FrozenTrial], None] | None = None,
) -> float:
    """Run the enqueued baselines, then trials until ``settings.trials`` count or
    ``settings.seconds`` pass; return the seconds.
    ``objective`` returns the fold probabilities (saved beside the study) and the trial's score."""
    folder.mkdir(parents=True, exist_ok=True)
    started = time.perf_counter()

    def wrapped(trial: optuna.Trial) -> float:
        fold_probs, score = objective(trial)
        save_file({"fold_probs": fold_probs.contiguous()}, str(folder / f"trial-{trial.number}.safetensors"))
        return score

    callbacks = [] if on_trial is None else [lambda _study, frozen: on_trial(frozen)]
    # The enqueued baselines run whatever the clock says: the choice must be scored against them.
    waiting = len(study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.WAITING,)))
    if waiting:
        study.optimize(wrapped, n_trials=waiting, callbacks=callbacks)
    done = len(study.get_trials(deepcopy=False, states=COUNTED))
    left = settings.seconds - (time.perf_counter() - started)
    if done < settings.trials and left > 0:
        callbacks.append(optuna.study.MaxTrialsCallback(settings.trials, states=COUNTED))
        study.optimize(wrapped, n_trials=settings.trials - done, timeout=left, callbacks=callbacks)
    return time.perf_counter() - started


def finished_trials(study: optuna.Study, folder: Path) -> list[FinishedTrial]:
    """Completed trials whose fold probabilities are on disk, best first (ties: earlier first)."""
    out = []
    for trial in study.get_trials(deepcopy=False, states=(optuna.trial.TrialState.COMPLETE,)):
        path = folder / f"trial-{trial.number}.safetensors"
        if path.is_file():
            probs = load_file(str(path))["fold_probs"]
            out.append(FinishedTrial(trial.number, dict(trial.params), float(trial.value), probs))
    return sorted(out, key=lambda t: (-t.value, t.number))
