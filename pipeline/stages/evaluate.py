"""Stage evaluate: metrics with their spread, ablations, plots and a report; then the registry.

Files first (DVC outputs), then the side effects on the tracking server, through tracking.
"""

from __future__ import annotations

import csv
import io
import math

from pipeline.atomic import read_json, write_json, write_text
from pipeline.bundle import load_bundle
from pipeline.config import Params
from pipeline.errors import GraphFuseError
from pipeline.evaluation.metrics import confusion
from pipeline.evaluation.plots import plot_confusion, plot_embedding_map, plot_reliability, plot_training_curves
from pipeline.evaluation.report import write_report
from pipeline.evaluation.suite import EvaluationResult, evaluate_model, split_fingerprint
from pipeline.graph import load_graph
from pipeline.paths import Paths
from pipeline.stages import show_progress
from pipeline.stages.train import HISTORY_FILE, RUN_FILE
from pipeline.tracking import (
    Lineage,
    PromotionResult,
    configure_tracking,
    log_evaluation,
    register_and_promote,
    training_lineage,
)
from pipeline.tracking.health import ensure_tracking_reachable
from pipeline.tracking.provenance import dvc_data_hash, file_hash, flow_run_id, git_commit, params_tag
from pipeline.training import resolve_device

METRICS_FILE = "metrics.json"
ABLATION_FILE = "ablation.json"
REGISTRY_FILE = "registry.json"
REPORT_FILE = "evaluation.html"
CONFUSION_CSV, CONFUSION_PNG = "confusion_test.csv", "confusion_test.png"
CURVES_PNG = "training_curves.png"
RELIABILITY_CSV, RELIABILITY_PNG = "reliability_test.csv", "reliability_test.png"
EMBEDDINGS_CSV, EMBEDDINGS_PNG = "embeddings.csv", "embeddings.png"


def _clean(value):
    """Rounded floats, None for NaN (JSON has no NaN), recursively."""
    if isinstance(value, dict):
        return {k: _clean(v) for k, v in value.items()}
    if isinstance(value, float):
        return None if math.isnan(value) else round(value, 4)
    return value


def _csv(rows: list[dict]) -> str:
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(rows[0]) if rows else ["empty"])
    writer.writeheader()
    writer.writerows(rows)
    return buffer.getvalue()


def _read_history(paths: Paths) -> list[dict[str, float]]:
    text = (paths.metrics / HISTORY_FILE).read_text(encoding="utf-8")
    return [{k: float(v) for k, v in row.items()} for row in csv.DictReader(io.StringIO(text))]


def _write_plots(result: EvaluationResult, data, meta, bundle, paths: Paths) -> None:
    y, test = data.y.numpy(), data.test_mask.numpy()
    predicted = result.probs.argmax(axis=1)
    classes = meta.classes
    rows = [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(y[test], predicted[test], strict=True)]
    write_text(paths.plots / CONFUSION_CSV, _csv(rows))
    title = f"{meta.dataset}: test split (n={int(test.sum())})"
    plot_confusion(confusion(y[test], predicted[test], len(classes)), classes, title, paths.plots / CONFUSION_PNG)
    best_epoch = int(bundle.training.get("best_epoch", 0))
    plot_training_curves(_read_history(paths), best_epoch, paths.plots / CURVES_PNG)
    write_text(paths.plots / RELIABILITY_CSV, _csv(result.reliability))
    plot_reliability(result.reliability, result.metrics["test"]["ece"], title, paths.plots / RELIABILITY_PNG)
    if result.embedding_coords is not None:
        labels = [classes[c] if c >= 0 else "(unlabelled)" for c in y]
        splits = ["test" if t else "other" for t in test]
        coords = result.embedding_coords
        points = [
            {"node_id": n, "x": round(float(a), 4), "y": round(float(b), 4), "class": label, "split": split}
            for n, (a, b), label, split in zip(meta.node_ids, coords, labels, splits, strict=True)
        ]
        write_text(paths.plots / EMBEDDINGS_CSV, _csv(points))
        title = f"{meta.dataset}: t-SNE of the learned node embeddings (x = test)"
        plot_embedding_map(coords, labels, splits, classes, title, paths.plots / EMBEDDINGS_PNG)


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


def tracked_lineage(params: Params, paths: Paths) -> Lineage:
    """Tracking first: the store set up and the model's training run found in it (or, for a model
    that came through a shared DVC cache, logged here anew) before any output is overwritten."""
    configure_tracking(paths.root, params.tracking.experiment)
    run_info = read_json(paths.model / RUN_FILE)
    lineage = training_lineage(run_info, paths.model, paths.graph, paths.dataset, params.tracking.experiment)
    if lineage.note:
        print(f"note: {lineage.note}", flush=True)
    return lineage


def registry_record(promotion: PromotionResult, lineage: Lineage) -> dict:
    """What registry.json holds: the registry's decision, and how the model's run was found."""
    return promotion.as_dict() | ({"lineage": lineage.note} if lineage.note else {})


def run(params: Params, paths: Paths) -> dict:
    ensure_tracking_reachable(paths.root)  # before any output is overwritten
    data, meta = load_graph(paths.graph)
    bundle = load_bundle(paths.model)
    if meta.task == "link_prediction" or bundle.config.decoder is not None:
        if (meta.task == "link_prediction") != (bundle.config.decoder is not None):
            raise GraphFuseError(f"{paths.model}: trained for another task than the graph's ({meta.task}); rerun train")
        from pipeline.stages.evaluate_link import run_link

        return run_link(
            params, paths, data, meta, bundle, resolve_device(params.train.device), tracked_lineage(params, paths)
        )
    if bundle.classes != meta.classes:
        raise GraphFuseError(
            f"{paths.model}: trained on classes {bundle.classes}, graph has {meta.classes}; rerun train"
        )
    lineage = tracked_lineage(params, paths)
    device = resolve_device(params.train.device)
    say = print if show_progress() else None
    result = evaluate_model(bundle.build(), bundle.config, data, meta, params, device, progress=say)

    spread = {"n_seeds": len(result.spread["seeds"])} | result.spread["summary"]
    metrics = _clean({split: m for split, m in result.metrics.items()} | {"spread": spread})
    ablation = _clean(result.ablation | {"modality_weights": result.modality_weights or {}})
    write_json(paths.metrics / METRICS_FILE, metrics)
    write_json(paths.metrics / ABLATION_FILE, ablation)
    _write_plots(result, data, meta, bundle, paths)
    plots = [paths.plots / p for p in (CONFUSION_PNG, CURVES_PNG, RELIABILITY_PNG, EMBEDDINGS_PNG)]
    fingerprint = split_fingerprint(data, meta)
    facts = {"dataset": meta.dataset, "nodes": str(len(meta.node_ids)), "split fingerprint": fingerprint}
    facts |= {f"{s} nodes": str(int(data[f"{s}_mask"].sum())) for s in ("train", "val", "test")}
    report = write_report(
        title=f"GraphFuse evaluation: {meta.dataset}",
        facts=facts,
        metrics=result.metrics,
        spread=result.spread,
        ablation=result.ablation,
        modality_weights=result.modality_weights,
        notes=result.notes,
        plots=plots,
    )
    write_text(paths.root / "reports" / REPORT_FILE, report)

    tracking = params.tracking
    flat = {f"{s}_{k}": v for s in ("train", "val", "test") for k, v in metrics[s].items() if k not in ("per_class",)}
    flat |= {
        f"spread_{s}_{k}_{stat}": v for s in ("val", "test") for k, st in spread[s].items() for stat, v in st.items()
    }
    flat |= {f"ablation_{c}_{k}": v for c, row in ablation["inference"].items() for k, v in row.items()}
    log_evaluation(
        lineage.run_id,
        flat,
        {"plots": plots, "report": [paths.root / "reports" / REPORT_FILE]},
        {
            "evaluation/metrics.json": metrics,
            "evaluation/ablation.json": ablation,
            "evaluation/spread.json": result.spread,
        },
    )
    tags = registry_tags(params, paths, meta.dataset, fingerprint)
    promotion = register_and_promote(
        lineage.model_uri,
        lineage.run_id,
        name=tracking.model_name,
        alias=tracking.champion_alias,
        metric=params.evaluate.champion_metric,
        value=result.metrics["val"][params.evaluate.champion_metric],
        min_delta=params.registry.min_delta,
        tags=tags,
    )
    write_json(paths.metrics / REGISTRY_FILE, registry_record(promotion, lineage))
    headline = {s: {k: v for k, v in metrics[s].items() if k != "per_class"} for s in ("val", "test")}
    return {"metrics": headline | {"spread": spread}, "registry": registry_record(promotion, lineage)}
