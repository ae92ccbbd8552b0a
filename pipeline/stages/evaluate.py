"""Stage evaluate: metrics with their spread, ablations, plots and a report; then the registry.

Files first (DVC outputs), then the side effects on the tracking server, through tracking.
"""

from __future__ import annotations

from pipeline.atomic import write_json, write_text
from pipeline.config import Params
from pipeline.device import resolve_device
from pipeline.errors import GraphFuseError
from pipeline.evaluation.metrics import confusion
from pipeline.evaluation.plots import plot_confusion, plot_embedding_map, plot_reliability, plot_training_curves
from pipeline.evaluation.report import write_report
from pipeline.evaluation.suite import EvaluationResult, evaluate_model, split_fingerprint
from pipeline.graph import load_graph
from pipeline.inference.bundle import load_bundle
from pipeline.paths import Paths
from pipeline.stages import progress_lines
from pipeline.stages.headline import headline
from pipeline.stages.publish import (  # noqa: F401 - the output names, also read from here
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
    clean,
    csv_text,
    publish,
    read_history,
    registry_tags,
    tracked_lineage,
)
from pipeline.tracking.health import ensure_tracking_reachable


def _write_plots(result: EvaluationResult, data, meta, bundle, paths: Paths, tsne: bool) -> None:
    y, test = data.y.numpy(), data.test_mask.numpy()
    predicted = result.probs.argmax(axis=1)
    classes = meta.classes
    rows = [{"actual": classes[a], "predicted": classes[p]} for a, p in zip(y[test], predicted[test], strict=True)]
    write_text(paths.plots / CONFUSION_CSV, csv_text(rows))
    title = f"{meta.dataset}: test split (n={int(test.sum())})"
    plot_confusion(confusion(y[test], predicted[test], len(classes)), classes, title, paths.plots / CONFUSION_PNG)
    best_epoch = int(bundle.training.get("best_epoch", 0))
    plot_training_curves(read_history(paths), best_epoch, paths.plots / CURVES_PNG)
    write_text(paths.plots / RELIABILITY_CSV, csv_text(result.reliability))
    plot_reliability(result.reliability, result.metrics["test"]["ece"], title, paths.plots / RELIABILITY_PNG)
    labels = [classes[c] if c >= 0 else "(unlabelled)" for c in y]
    splits = ["test" if t else "other" for t in test]
    coords = result.embedding_coords
    points = [
        {"node_id": n, "x": round(float(a), 4), "y": round(float(b), 4), "class": label, "split": split}
        for n, (a, b), label, split in zip(meta.node_ids, coords, labels, splits, strict=True)
    ]
    write_text(paths.plots / EMBEDDINGS_CSV, csv_text(points))
    how = "t-SNE of" if tsne else "the first two dimensions of (evaluate.embedding_map off)"
    title = f"{meta.dataset}: {how} the learned node embeddings (x = test)"
    plot_embedding_map(coords, labels, splits, classes, title, paths.plots / EMBEDDINGS_PNG)


def run(params: Params, paths: Paths) -> dict:
    ensure_tracking_reachable(paths.root)  # before any output is overwritten
    data, meta = load_graph(paths.graph)
    bundle = load_bundle(paths.model)
    device = resolve_device(params.train.device)
    if meta.task == "link_prediction" or bundle.config.decoder is not None:
        if (meta.task == "link_prediction") != (bundle.config.decoder is not None):
            raise GraphFuseError(f"{paths.model}: trained for another task than the graph's ({meta.task}); rerun train")
        from pipeline.stages.evaluate_link import run_link

        return run_link(params, paths, data, meta, bundle, device)
    if bundle.classes != meta.classes:
        raise GraphFuseError(
            f"{paths.model}: trained on classes {bundle.classes}, graph has {meta.classes}; rerun train"
        )
    lineage = tracked_lineage(params, paths)  # before any output is overwritten
    result = evaluate_model(bundle.build(), bundle.config, data, meta, params, device, progress=progress_lines())

    metrics, ablation = _write_metric_files(result, params, paths)
    _write_plots(result, data, meta, bundle, paths, tsne=params.evaluate.embedding_map)
    plots = [paths.plots / p for p in (CONFUSION_PNG, CURVES_PNG, RELIABILITY_PNG, EMBEDDINGS_PNG)]
    fingerprint = split_fingerprint(data, meta)
    _write_report(result, data, meta, fingerprint, plots, paths)
    registry = publish(
        params,
        paths,
        lineage,
        dataset=meta.dataset,
        flat_metrics=_flat_metrics(metrics, ablation),
        artifacts={"plots": plots, "report": [paths.root / "reports" / REPORT_FILE]},
        documents={
            "evaluation/metrics.json": metrics,
            "evaluation/ablation.json": ablation,
            "evaluation/spread.json": result.spread,
        },
        metric=params.evaluate.champion_metric,
        value=result.metrics["val"][params.evaluate.champion_metric],
        tags=registry_tags(params, paths, meta.dataset, fingerprint),
        val_correct=(result.probs.argmax(axis=1) == data.y.numpy())[data.val_mask.numpy()],
    )
    splits = {s: {k: v for k, v in metrics[s].items() if k != "per_class"} for s in ("val", "test")}
    return {"metrics": splits | {"spread": metrics["spread"]}, "registry": registry}


def _write_metric_files(result: EvaluationResult, params: Params, paths: Paths) -> tuple[dict, dict]:
    """Every figure (the detail), then the headline DVC shows, and the ablation; returns (detail, ablation)."""
    spread = {"n_seeds": len(result.spread["seeds"])} | result.spread["summary"]
    metrics = clean({split: m for split, m in result.metrics.items()} | {"spread": spread})
    ablation = clean(result.ablation | {"modality_weights": result.modality_weights or {}})
    write_json(paths.metrics / DETAIL_FILE, metrics)
    write_json(paths.metrics / METRICS_FILE, headline(metrics, params.evaluate.champion_metric))
    write_json(paths.metrics / ABLATION_FILE, ablation)
    return metrics, ablation


def _write_report(result: EvaluationResult, data, meta, fingerprint: str, plots: list, paths: Paths) -> None:
    """The self-contained HTML report: the run's facts, metrics with spread, ablation, plots."""
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


def _flat_metrics(metrics: dict, ablation: dict) -> dict[str, float]:
    """The figures under MLflow's flat names: ``test_macro_f1``, ``spread_test_accuracy_mean``, ..."""
    spread = metrics["spread"]
    flat = {f"{s}_{k}": v for s in ("train", "val", "test") for k, v in metrics[s].items() if k != "per_class"}
    flat |= {
        f"spread_{s}_{k}_{stat}": v for s in ("val", "test") for k, st in spread[s].items() for stat, v in st.items()
    }
    flat |= {f"ablation_{c}_{k}": v for c, row in ablation["inference"].items() for k, v in row.items()}
    return flat
