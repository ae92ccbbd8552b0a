"""The accuracy table's ``auto`` part: what ``train.search: auto`` scores, searched once per dataset.

The search runs as the train stage runs it (``pipeline/search/train_entry.py``: ``search_ensemble``
around params.yaml's model, then ``fit_ensemble`` with ``train.seed``), in a fresh study under
``--work`` so that no earlier study is resumed; its wall time is measured. The spread is the
evaluate stage's own (``pipeline.evaluation.spread.seed_spread``): the registered ensemble stands
for ``train.seed``, every other seed retrains each member with its own settings, the weights and
Correct & Smooth strength as the search chose them. The search itself does not run again per seed.
"""

from __future__ import annotations

import os
import shutil
import time
from collections import Counter
from pathlib import Path

import torch

from pipeline.evaluation.retrain import threads_for
from pipeline.evaluation.spread import seed_spread
from pipeline.search.run import search_ensemble
from pipeline.stages.train import _model_config
from pipeline.tracking.provenance import git_commit
from pipeline.training.refit import fit_ensemble

AUTO = "GraphFuse train.search: auto (ensemble)"
CPU = torch.device("cpu")
REPO = Path(__file__).resolve().parents[1]
#: The search report's selection scores (5-fold or val accuracy on the scored train/val nodes).
SELECTION_KEYS = ("best_single_modality", "best_no_graph", "best_candidate", "ensemble_score", "final_score")


def fresh_storage(folder: Path) -> str:
    """A study file in an emptied ``folder``: the search starts from nothing, as on a first repro."""
    shutil.rmtree(folder, ignore_errors=True)
    folder.mkdir(parents=True)
    return str(folder / "studies.db")


def member_summary(member) -> dict:
    """One member as chosen: its name, weight, fusion x backbone, modalities and own settings."""
    config = member.config
    return {
        "name": member.name,
        "weight": round(member.weight, 4),
        "fusion": config.fusion,
        "backbone": config.backbone,
        "modalities": sorted(config.modality_dims),
        "hidden_dim": config.hidden_dim,
        "dropout": config.dropout,
        "residual": config.residual,
        "modality_dropout": config.modality_dropout,
        "recipe": dict(member.recipe),
    }


def auto_row(data, meta, train, *, digest: str, storage: str, seeds: list[int]) -> dict:
    """Search once with ``train`` (``search: auto``, its budget), fit the ensemble with ``train.seed``
    (the registered model), then the evaluate stage's spread over ``seeds``: the table's row, val and
    test accuracy per seed, with the search's wall time, trials, members and selection scores."""
    settings = train.model_copy(update={"search": "auto", "search_storage": storage})
    config = _model_config(settings, meta, len(meta.node_ids))
    states: Counter[str] = Counter()
    load_start, started = os.getloadavg()[0], time.perf_counter()
    outcome = search_ensemble(
        config, settings, data, device=CPU, graph_digest=digest, on_trial=lambda *trial: states.update([trial[3]])
    )
    searched = time.perf_counter()
    registered, _ = fit_ensemble(outcome.config, data, settings, seed=settings.seed, device=CPU)
    fitted = time.perf_counter()
    with threads_for(data):  # as the evaluate stage runs its spread
        spread = seed_spread(registered, outcome.config, data, meta.classes, settings, seeds, CPU)
    done = time.perf_counter()
    per_seed = spread["per_seed"]
    report = outcome.report
    search = {
        "wall_seconds": round(searched - started, 1),
        "study_seconds": report["search_seconds"],
        "fit_seconds": round(fitted - searched, 1),
        "spread_seconds": round(done - fitted, 1),
        "trials": dict(sorted(states.items())),
        "budget": report["budget"] | {"top": settings.search_top, "rounds": settings.search_rounds},
        "selection": report["selection"],
        "scores": {key: report[key] for key in SELECTION_KEYS},
        "smoothing_alpha": report["smoothing_alpha"],
        "members": [member_summary(m) for m in outcome.config.members],
        "seeds": seeds,
        "load_average": [round(load_start, 2), round(os.getloadavg()[0], 2)],
        "commit": git_commit(REPO),
    }
    members = len(search["members"])
    return {
        "val": [row["val"]["accuracy"] for row in per_seed],
        "test": [row["test"]["accuracy"] for row in per_seed],
        "test_macro_f1": [row["test"]["macro_f1"] for row in per_seed],
        "note": f"search {search['wall_seconds']:.0f} s, {members} member{'s' * (members != 1)}",
        "search": search,
    }


def auto_rows(name: str, data, meta, params, work: Path, seeds: list[int]) -> dict[str, dict]:
    """The ``auto`` part's row for dataset ``name``, its study in a fresh folder under ``work``."""
    storage = fresh_storage(work / name / "search-auto")
    # a fresh study: the digest only labels it, so the dataset's name does
    row = auto_row(data, meta, params.train, digest=name, storage=storage, seeds=seeds)
    search = row["search"]
    print(
        f"{name:<15} {'auto (ensemble)':<40} test {100 * sum(row['test']) / len(row['test']):.1f} "
        f"({row['note']}; trials {search['trials']}; final score {search['scores']['final_score']})",
        flush=True,
    )
    return {AUTO: row}
