"""Stage evaluate: metrics per split, the confusion matrix, registry version and champion alias."""

from __future__ import annotations

import csv
import io

import mlflow
import numpy as np

from pipeline.atomic import read_json, write_json, write_text
from pipeline.bundle import load_bundle
from pipeline.config import Params
from pipeline.dataset import SPLITS
from pipeline.errors import GraphFuseError
from pipeline.evaluation.metrics import classification_metrics, confusion
from pipeline.evaluation.plots import plot_confusion, plot_training_curves
from pipeline.graph import load_graph
from pipeline.paths import Paths
from pipeline.stages.train import HISTORY_FILE, RUN_FILE
from pipeline.tracking import configure_tracking, register_and_promote, start_run
from pipeline.tracking.health import ensure_tracking_reachable
from pipeline.training import predict_logits, resolve_device

METRICS_FILE = "metrics.json"
REGISTRY_FILE = "registry.json"
CONFUSION_CSV = "confusion_test.csv"
CONFUSION_PNG = "confusion_test.png"
CURVES_PNG = "training_curves.png"


def _read_history(paths: Paths) -> list[dict[str, float]]:
    text = (paths.metrics / HISTORY_FILE).read_text(encoding="utf-8")
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def run(params: Params, paths: Paths) -> dict:
    ensure_tracking_reachable(paths.root)  # before any output is overwritten
    data, meta = load_graph(paths.graph)
    bundle = load_bundle(paths.model)
    if bundle.classes != meta.classes:
        raise GraphFuseError(
            f"{paths.model}: trained on classes {bundle.classes}, graph has {meta.classes}; rerun train"
        )
    run_info = read_json(paths.model / RUN_FILE)
    device = resolve_device(params.train.device)
    predicted = predict_logits(bundle.build(), data, device).argmax(dim=-1).numpy()
    y = data.y.numpy()

    metrics: dict[str, dict[str, float]] = {}
    for split in SPLITS:
        mask = data[f"{split}_mask"].numpy()
        metrics[split] = classification_metrics(y[mask], predicted[mask], len(meta.classes))
    test_mask = data.test_mask.numpy()
    matrix = confusion(y[test_mask], predicted[test_mask], len(meta.classes))

    # Files first (DVC outputs), then the side effects on the tracking server.
    rounded = {s: {k: round(v, 4) if isinstance(v, float) else v for k, v in m.items()} for s, m in metrics.items()}
    write_json(paths.metrics / METRICS_FILE, rounded)
    rows = ["actual,predicted"] + [
        f"{meta.classes[a]},{meta.classes[p]}" for a, p in zip(y[test_mask], predicted[test_mask], strict=True)
    ]
    write_text(paths.plots / CONFUSION_CSV, "\n".join(rows) + "\n")
    plot_confusion(
        matrix, meta.classes, f"{meta.dataset}: test split (n={int(test_mask.sum())})", paths.plots / CONFUSION_PNG
    )
    history = _read_history(paths)
    plot_training_curves(history, int(bundle.training.get("best_epoch", 0)), paths.plots / CURVES_PNG)

    tracking = params.tracking
    metric_name = params.evaluate.champion_metric
    configure_tracking(paths.root, tracking.experiment)
    with start_run(run_id=run_info["run_id"]):
        mlflow.log_metrics(
            {f"{s}_{k}": v for s, m in metrics.items() for k, v in m.items() if k != "n" and not np.isnan(v)}
        )
        mlflow.log_artifact(str(paths.plots / CONFUSION_PNG), "plots")
        mlflow.log_artifact(str(paths.plots / CURVES_PNG), "plots")
    promotion = register_and_promote(
        run_info["model_uri"],
        run_info["run_id"],
        name=tracking.model_name,
        alias=tracking.champion_alias,
        metric=metric_name,
        value=metrics["val"][metric_name],
    )
    write_json(paths.metrics / REGISTRY_FILE, promotion.as_dict())
    return {"metrics": rounded, "registry": promotion.as_dict()}
