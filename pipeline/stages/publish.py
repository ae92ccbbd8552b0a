"""What the evaluate stage writes and publishes, whatever the task: its output names, the small
writers, and the publish step (log to the training run, register, promote, write registry.json).

Node classification (:mod:`.evaluate`) and link prediction (:mod:`.evaluate_link`) both use this
module; neither imports the other's internals.
"""

from __future__ import annotations

import csv
import io
import math
from pathlib import Path
from typing import Any

import numpy as np

from pipeline.atomic import read_json, write_json
from pipeline.config import Params
from pipeline.paths import Paths
from pipeline.stages.outputs import (  # noqa: F401 - the output names, also read from here
    ABLATION_FILE,
    CONFUSION_CSV,
    CONFUSION_PNG,
    CURVES_PNG,
    DETAIL_FILE,
    EMBEDDINGS_CSV,
    EMBEDDINGS_PNG,
    METRICS_FILE,
    REGISTRY_FILE,
    RELIABILITY_CSV,
    RELIABILITY_PNG,
    REPORT_FILE,
)
from pipeline.stages.train import HISTORY_FILE, RUN_FILE
from pipeline.tracking import Lineage, configure_tracking, log_evaluation, register_and_promote, training_lineage
from pipeline.tracking.champion_rule import ChampionRule
from pipeline.tracking.provenance import dvc_data_hash, file_hash, flow_run_id, git_commit, params_tag


def clean(value):
    """Rounded floats, None for NaN (JSON has no NaN), recursively."""
    if isinstance(value, dict):
        return {k: clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def csv_text(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["empty"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def tracked_lineage(params: Params, paths: Paths) -> Lineage:
    """Tracking first, before any output is overwritten: the store set up, and the run that trained
    the model (the train stage's run.json) found in it, or, for a model that came through a shared
    DVC cache from another machine, logged here anew (said in a ``note:`` line)."""
    experiment = params.tracking.experiment
    configure_tracking(paths.root, experiment)
    run_info = read_json(paths.model / RUN_FILE)
    lineage = training_lineage(run_info, paths.model, paths.graph, paths.dataset, experiment)
    if lineage.note:
        print(f"note: {lineage.note}", flush=True)
    return lineage


def read_history(paths: Paths) -> list[dict[str, float]]:
    """The per-epoch training history the train stage wrote."""
    text = (paths.metrics / HISTORY_FILE).read_text(encoding="utf-8")
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def registry_tags(params: Params, paths: Paths, dataset: str, fingerprint: str) -> dict[str, str]:
    """Provenance of a version (commit, data, params, weights, flow run) and the data it was judged on."""
    tags = {
        "git_commit": git_commit(paths.root),
        "data_hash": dvc_data_hash(paths.root, str(params.dataset.dir)),
        "dataset": dataset,
        "split_fingerprint": fingerprint,
        "params": params_tag(params.model_dump(mode="json", by_alias=True)),
        "model_hash": file_hash(paths.model / "model.safetensors", paths.model / "model.json"),
    }
    if (flow_run := flow_run_id()) is not None:
        tags["prefect_flow_run_id"] = flow_run
    return tags


def publish(
    params: Params,
    paths: Paths,
    lineage: Lineage,
    *,
    dataset: str,
    flat_metrics: dict[str, float],
    artifacts: dict[str, list[Path]],
    documents: dict[str, Any],
    metric: str,
    value: float,
    tags: dict[str, str],
    val_correct: np.ndarray | None = None,
) -> dict:
    """Log the evaluation to the training run (``lineage``: :func:`tracked_lineage`), register its
    model (champion on ``metric`` under params' ``registry`` rule, paired on ``val_correct``: which
    val nodes it got right), and write registry.json; returns what registry.json says."""
    tracking = params.tracking
    log_evaluation(lineage.run_id, flat_metrics, artifacts, documents)
    promotion = register_and_promote(
        lineage.model_uri,
        lineage.run_id,
        name=tracking.registered_name(dataset),
        alias=tracking.champion_alias,
        metric=metric,
        value=value,
        tags=tags,
        rule=ChampionRule(**params.registry.model_dump()),
        val_correct=val_correct,
    )
    record = promotion.as_dict() | ({"lineage": lineage.note} if lineage.note else {})
    write_json(paths.metrics / REGISTRY_FILE, record)
    return record
