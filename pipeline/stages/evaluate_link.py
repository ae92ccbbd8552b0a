"""Stage evaluate, link prediction: ranking metrics with spread and the no-graph scorer, plots,
report, then the registry (champion on validation MRR). Same output files as node classification:
the headline (metrics.json) of test MRR and Hits@10 apart from every figure (metrics_detail.json).
"""

from __future__ import annotations

from pipeline.atomic import write_json, write_text
from pipeline.config import Params
from pipeline.evaluation.embeddings import embedding_map
from pipeline.evaluation.plots import plot_embedding_map
from pipeline.inference.bundle import ModelBundle
from pipeline.paths import Paths
from pipeline.stages import progress_lines
from pipeline.stages import publish as files  # the stage's output names, small writers, publish step
from pipeline.stages.headline import headline
from pipeline.tasks.link.evaluate import LinkEvaluation, evaluate_link_model, link_split_fingerprint
from pipeline.tasks.link.outputs import confusion_rows, link_report, plot_link_curves, plot_link_outputs
from pipeline.tasks.link.train import embed_nodes

CHAMPION_METRIC = "mrr"


def run_link(params: Params, paths: Paths, data, meta, bundle: ModelBundle, device) -> dict:
    """The evaluate stage for a link predictor; writes the files the stage declares in dvc.yaml."""
    lineage = files.tracked_lineage(params, paths)  # before any output is overwritten
    model = bundle.build()
    result = evaluate_link_model(model, bundle.config, data, meta, params, device, progress=progress_lines())
    metrics = _write_metric_files(result, paths)
    plots = _write_plots(result, params, paths, data, meta, bundle, model, device)
    fingerprint = link_split_fingerprint(data, meta)
    _write_report(result, params, paths, data, meta, bundle, fingerprint, plots)
    registry = files.publish(
        params,
        paths,
        lineage,
        dataset=meta.dataset,
        flat_metrics=_flat_metrics(metrics),
        artifacts={"plots": plots, "report": [paths.root / "reports" / files.REPORT_FILE]},
        documents={"evaluation/metrics.json": metrics, "evaluation/ablation.json": files.clean(result.ablation)},
        metric=CHAMPION_METRIC,
        value=result.metrics["val"][CHAMPION_METRIC],
        tags=files.registry_tags(params, paths, meta.dataset, fingerprint) | {"task": "link_prediction"},
    )
    splits = {s: metrics[s] for s in ("val", "test")}
    return {"metrics": splits | {k: metrics[k] for k in ("spread", BASELINE_KEY)}, "registry": registry}


def _write_metric_files(result: LinkEvaluation, paths: Paths) -> dict:
    """Every figure (the detail, with the no-graph scorer), the headline DVC shows, the ablation."""
    spread = {"n_seeds": len(result.spread["seeds"])} | result.spread["summary"]
    baseline = {"n_seeds": len(result.baseline["seeds"]), "encoder": result.baseline["encoder"]}
    baseline |= result.baseline["summary"]
    metrics = files.clean({"task": "link_prediction"} | result.metrics | {"spread": spread, BASELINE_KEY: baseline})
    write_json(paths.metrics / files.DETAIL_FILE, metrics)
    write_json(paths.metrics / files.METRICS_FILE, headline(metrics, CHAMPION_METRIC))
    write_json(paths.metrics / files.ABLATION_FILE, files.clean(result.ablation))
    return metrics


def _write_plots(result: LinkEvaluation, params: Params, paths: Paths, data, meta, bundle, model, device) -> list:
    """The stage's plots with their link-prediction meaning (tasks/link/outputs.py); returns the PNGs."""
    title = f"{meta.dataset}: test link candidates (n={result.metrics['test']['n']} positives)"
    rows, _ = confusion_rows(result)
    write_text(paths.plots / files.CONFUSION_CSV, files.csv_text(rows))
    bins = plot_link_outputs(result, title, paths.plots / files.CONFUSION_PNG, paths.plots / files.RELIABILITY_PNG)
    write_text(paths.plots / files.RELIABILITY_CSV, files.csv_text(bins))
    plot_link_curves(
        files.read_history(paths), int(bundle.training.get("best_epoch", 0)), paths.plots / files.CURVES_PNG
    )
    z = embed_nodes(model, data, device).numpy()
    coords = embedding_map(z, seed=params.train.seed) if params.evaluate.embedding_map else z[:, :2]
    splits = ["test" if t else "other" for t in data.test_mask.tolist()]
    points = [
        {"node_id": n, "x": round(float(a), 4), "y": round(float(b), 4), "split": s}
        for n, (a, b), s in zip(meta.node_ids, coords, splits, strict=True)
    ]
    write_text(paths.plots / files.EMBEDDINGS_CSV, files.csv_text(points))
    labels = ["(unlabelled)"] * len(meta.node_ids)
    map_title = f"{meta.dataset}: node embeddings (x = held-out nodes)"
    plot_embedding_map(coords, labels, splits, [], map_title, paths.plots / files.EMBEDDINGS_PNG)
    names = (files.CURVES_PNG, files.CONFUSION_PNG, files.RELIABILITY_PNG, files.EMBEDDINGS_PNG)
    return [paths.plots / name for name in names]


def _write_report(result: LinkEvaluation, params: Params, paths: Paths, data, meta, bundle, fingerprint, plots) -> None:
    """The self-contained HTML report: the run's facts, ranking metrics with spread, baseline, plots."""
    facts = {
        "dataset": meta.dataset,
        "task": "link prediction",
        "edge split": params.validate_.edge_split,
        "split fingerprint": fingerprint,
        "decoder": str(bundle.config.decoder),
        "encoder": f"{bundle.config.fusion} x {bundle.config.backbone}",
    }
    facts |= {f"{s} pairs": str(int(data[f"lp_{s}_pos"].size(1))) for s in ("train", "val", "test")}
    facts["candidates per positive"] = str(int(data.lp_test_neg.size(1)))
    report = link_report(title=f"GraphFuse evaluation: {meta.dataset} links", facts=facts, result=result, plots=plots)
    write_text(paths.root / "reports" / files.REPORT_FILE, report)


def _flat_metrics(metrics: dict) -> dict[str, float]:
    """The figures under MLflow's flat names: ``test_mrr``, ``spread_test_mrr_mean``, ``baseline_...``."""
    flat = {f"{s}_{k}": v for s in ("val", "test") for k, v in metrics[s].items()}
    for prefix, table in (("spread", metrics["spread"]), ("baseline", metrics[BASELINE_KEY])):
        flat |= {
            f"{prefix}_{s}_{k}_{stat}": v
            for s in ("val", "test")
            for k, st in table[s].items()
            for stat, v in st.items()
        }
    return flat


BASELINE_KEY = "no_graph_mlp"
