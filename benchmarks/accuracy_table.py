"""Accuracy table: datasets x models, test accuracy mean ± sd over training seeds.

Rows: the hand-written reference (2-layer GraphSAGE on the concatenated frozen embeddings,
dataset edges, as a PyG user writes it), the same reference tuned on validation (a small grid),
the reference followed by GraphFuse's Correct & Smooth, GraphFuse's defaults (params.yaml, label
smoothing included), and the models alone (no Correct & Smooth): an MLP on the fused modalities
(no graph), the best single-modality GNN (the modality picked by validation accuracy), and fused
GNNs (fusion x backbone, kNN edges on/off); and ``train.search: auto`` (part ``auto``, ``auto_rows.py``):
the search run once as the train stage runs it, its ensemble retrained per seed as the evaluate stage
does, with the search's wall time. Every model sees the same graph files the pipeline
builds, the same fixed split (validate.seed 42: stratified 60/20/20) and is early-stopped on
validation. Features come from the real encoders, computed once per dataset (``table_data.py``).

    .venv/bin/python benchmarks/accuracy_table.py --work /tmp/gf-table [--quick] [--datasets emoji ...]
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

import torch
import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from auto_rows import auto_rows  # noqa: E402
from docs_tables import BASELINE_FILES, BASELINES, LOCKBOX_FILES, fmt, table, with_baselines, write_docs  # noqa: E402
from lockbox import parse_with_datasets  # noqa: E402
from reference_sage import reference_rows  # noqa: E402
from table_data import DATASETS, prepared  # noqa: E402

from pipeline.config import Params  # noqa: E402
from pipeline.graph import load_graph  # noqa: E402
from pipeline.models import FusionModelConfig, build_model  # noqa: E402
from pipeline.stages import build_graph  # noqa: E402
from pipeline.stages.train import MODEL_KEYS  # noqa: E402
from pipeline.training import options_from, seed_everything, train_node_classifier  # noqa: E402
from pipeline.training.loop import predict_logits  # noqa: E402

CPU = torch.device("cpu")


# -- GraphFuse's models, configured as the train stage configures them ---------------------------
def graphfuse_accuracy(data, meta, params: Params, overrides: dict, seed: int) -> tuple[float, float]:
    """(val, test) accuracy of the model as the train stage ships it (Correct & Smooth included)."""
    run = graphfuse_run(data, meta, params, overrides, seed)
    return run["val"], run["test"]


def graphfuse_run(data, meta, params: Params, overrides: dict, seed: int) -> dict[str, float]:
    """One training: val/test accuracy with the Correct & Smooth chosen on validation (``val``,
    ``test``) and of the model alone, before it (``val_alone``, ``test_alone``)."""
    overrides = dict(overrides)
    modalities = overrides.pop("modalities", list(meta.modalities))
    settings = params.train.model_copy(update={**overrides, "seed": seed})
    config = FusionModelConfig(
        modality_dims={m: meta.modalities[m] for m in modalities},
        num_classes=len(meta.classes),
        projection_dim=settings.projection_dim,
        hidden_dim=settings.hidden_dim,
        dropout=settings.dropout,
        backbone=settings.backbone,
        **{k: getattr(settings, k) for k in MODEL_KEYS},
    )
    options = options_from(settings, checkpoint_every=0)
    seed_everything(seed)
    model = build_model(config)
    result = train_node_classifier(model, data, num_classes=len(meta.classes), device=CPU, options=options)
    model.load_state_dict(result.state_dict)
    alone = predict_logits(model, data, CPU).argmax(-1)
    model.smoothing = result.smoothing  # Correct & Smooth chosen on validation, as the train stage does
    pred = predict_logits(model, data, CPU).argmax(-1)

    def acc(p: torch.Tensor, mask: torch.Tensor) -> float:
        return (p[mask] == data.y[mask]).float().mean().item()

    return {
        "val": acc(pred, data.val_mask),
        "test": acc(pred, data.test_mask),
        "val_alone": acc(alone, data.val_mask),
        "test_alone": acc(alone, data.test_mask),
    }


def single_modality_runs(data, meta, params: Params, seeds: list[int]) -> dict[str, dict[str, list[float]]]:
    """Each modality alone, the model without Correct & Smooth: val and test accuracy per seed."""
    single = {}
    for modality in meta.modalities:
        overrides = {"modalities": [modality], "smoothing": "off"}
        runs = [graphfuse_accuracy(data, meta, params, overrides, s) for s in seeds]
        single[modality] = {"val": [v for v, _ in runs], "test": [t for _, t in runs]}
    return single


def graph_for(params: Params, paths, knn: bool):
    params = params.model_copy(
        update={
            "build_graph": params.build_graph.model_copy(
                update={"knn": params.build_graph.knn.model_copy(update={"enabled": knn})}
            )
        }
    )
    build_graph.run(params, paths)
    return load_graph(paths.graph)


def with_overrides(params: Params, pairs: list[str]) -> Params:
    """``train.hidden_dim=64`` / ``knn.k=5`` style overrides, parsed as YAML scalars."""
    train, knn = {}, {}
    for pair in pairs:
        key, value = pair.split("=", 1)
        section, name = key.split(".", 1)
        (train if section == "train" else knn)[name] = yaml.safe_load(value)
    graph = params.build_graph.model_copy(update={"knn": params.build_graph.knn.model_copy(update=knn)})
    return params.model_copy(update={"train": params.train.model_copy(update=train), "build_graph": graph})


#: The no-graph row: the fused modalities through an MLP (a variant, and a part of the issue's bar).
MLP = "MLP (fused, no graph)"


def variants(quick: bool) -> list[tuple[str, dict, bool]]:
    """(row name, train overrides, kNN edges on?): the models alone (no Correct & Smooth), fusion x
    backbone on the dataset's edges, and early x sage with kNN edges added."""
    alone = {"smoothing": "off"}
    pairs = [("early", "sage"), ("gated", "sage")]
    if not quick:
        pairs = [(f, b) for f in ("early", "gated", "late") for b in ("sage", "gcn")]
        pairs += [("early", "gat"), ("early", "gatv2")]
    rows = [(MLP, {"backbone": "mlp"} | alone, False)]
    rows += [(f"{f} x {b}, no kNN", {"fusion": f, "backbone": b} | alone, False) for f, b in pairs]
    rows.append(("early x sage + kNN", {"fusion": "early", "backbone": "sage"} | alone, True))
    return rows


#: The default's rows: as shipped (Correct & Smooth chosen on validation), and the model alone.
DEFAULTS = "GraphFuse defaults (params.yaml)"
DEFAULTS_ALONE = "GraphFuse defaults, model alone (smoothing off)"


PARTS = ["reference", "reference_tuned", "reference_smoothed", "defaults", "single", "variants", "auto"]


def parse_args() -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="cache folder for features (reused)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--quick", action="store_true", help="2 seeds, fewer variants and epochs")
    parser.add_argument("--json", type=Path, help="also write the raw accuracies here")
    parser.add_argument(
        "--parts",
        nargs="+",
        default=PARTS,
        choices=PARTS,
        help="auto: train.search: auto with params.yaml's budget (--set train.search_trials=... to change it)",
    )
    parser.add_argument(
        "--set",
        nargs="*",
        default=[],
        metavar="KEY=VALUE",
        help="override train.* or knn.* params for every GraphFuse row, e.g. train.hidden_dim=64 knn.k=5",
    )
    parser.add_argument("--render", type=Path, nargs="+", help="only print the table of earlier --json files")
    parser.add_argument("--docs", action="store_true", help="also write the table into docs/accuracy.md")
    parser.add_argument(
        "--rows",
        nargs="+",
        metavar="ROW",
        help="only these rows of the variants part, by name, e.g. 'MLP (fused, no graph)' (default: all)",
    )
    parser.add_argument(
        "--merge",
        action="store_true",
        help="update the --json file's rows (the rows and datasets not run now stay) instead of replacing it",
    )
    parser.add_argument(
        "--baselines",
        type=Path,
        nargs="*",
        default=list(BASELINES),
        help="recorded accuracy_baselines.py --json files: their logistic-regression and AutoGluon rows join "
        "the table as they are (never rerun here); give none to leave them out",
    )
    return parse_with_datasets(parser, DATASETS, DATASETS)


def main() -> None:
    args = parse_args()
    baselines = [json.loads(path.read_text()) for path in args.baselines]
    if args.render:  # earlier --json files, a later file's datasets replacing an earlier's
        results = {k: v for path in args.render for k, v in json.loads(path.read_text()).items()}
        render(results, baselines, args.docs, args.lockbox)
        return
    seeds = list(range(2 if args.quick else args.seeds))
    ref_epochs = 100 if args.quick else 200
    results: dict[str, dict[str, dict]] = {}
    merging = args.merge and args.json and args.json.exists()  # a first --merge run starts the file
    earlier: dict[str, dict[str, dict]] = json.loads(args.json.read_text()) if merging else {}
    for name in args.datasets:
        params, paths = prepared(name, args.work)
        if args.quick:
            params = params.model_copy(update={"train": params.train.model_copy(update={"max_epochs": 100})})
        params = with_overrides(params, args.set)
        graphs = {knn: graph_for(params, paths, knn) for knn in (False, True)}
        data, meta = graphs[False]
        default_graph = graphs[params.build_graph.knn.enabled]
        rows: dict[str, dict] = {}
        start = time.perf_counter()
        rows.update(reference_rows(name, data, len(meta.classes), args.parts, seeds, ref_epochs))
        if "defaults" in args.parts:  # one training per seed gives both rows: with and before the smoothing
            runs = [graphfuse_run(*default_graph, params, {}, s) for s in seeds]
            rows[DEFAULTS] = {"val": [r["val"] for r in runs], "test": [r["test"] for r in runs]}
            rows[DEFAULTS_ALONE] = {"val": [r["val_alone"] for r in runs], "test": [r["test_alone"] for r in runs]}
            print(f"{name:<15} {'defaults':<40} test {fmt(rows[DEFAULTS]['test'])}")
            print(f"{name:<15} {'defaults, model alone':<40} test {fmt(rows[DEFAULTS_ALONE]['test'])}")
        if "single" in args.parts:
            single = single_modality_runs(data, meta, params, seeds)
            best = max(single, key=lambda m: statistics.mean(single[m]["val"]))
            # every modality's runs stay in the row's JSON: the bar compares with each of them
            rows["best single-modality GNN (no kNN)"] = {**single[best], "note": best, "per_modality": single}
            print(f"{name:<15} {'best single-modality':<40} test {fmt(single[best]['test'])} ({best})", flush=True)
        chosen = [v for v in variants(args.quick) if not args.rows or v[0] in args.rows]
        for row, overrides, knn in chosen if "variants" in args.parts else []:
            g, m = graphs[knn]
            runs = [graphfuse_accuracy(g, m, params, overrides, s) for s in seeds]
            rows[row] = {"val": [v for v, _ in runs], "test": [t for _, t in runs]}
            print(f"{name:<15} {row:<40} test {fmt(rows[row]['test'])}", flush=True)
            if args.json:  # after every row, so a run stopped early leaves what it finished
                args.json.write_text(json.dumps(merge_results(earlier, results | {name: rows}), indent=1))
        if "auto" in args.parts:  # the search once (its own fresh study under --work), then the spread
            rows.update(auto_rows(name, *default_graph, params, args.work, seeds))
        results[name] = rows
        print(f"{name}: {time.perf_counter() - start:.0f} s", flush=True)
        if args.json:  # after every dataset, so a long run leaves what it finished
            args.json.write_text(json.dumps(merge_results(earlier, results), indent=1))
    render(merge_results(earlier, results), baselines, args.docs, args.lockbox)


def merge_results(earlier: dict[str, dict[str, dict]], now: dict[str, dict[str, dict]]) -> dict[str, dict[str, dict]]:
    """``earlier``'s datasets and rows, with those run ``now`` replaced (``--merge``)."""
    out = {name: dict(rows) for name, rows in earlier.items()}
    for name, rows in now.items():
        out.setdefault(name, {}).update(rows)
    return out


def render(
    results: dict[str, dict[str, dict]], baselines: list[dict], docs: bool = False, lockbox: bool = False
) -> None:
    """Print the table, the recorded ``baselines``' practitioner rows below the rows run here; with
    ``docs``, also write it into docs/accuracy.md between its markers (``lockbox``: the Lockbox
    section's markers, for ``--lockbox --render lockbox_table.json --baselines lockbox_baselines.json``)."""
    results = with_baselines(results, baselines)
    print("\n" + table(results, LOCKBOX_FILES if lockbox else BASELINE_FILES))
    if docs:
        print(f"updated the table in {write_docs(results, lockbox=lockbox)}")


if __name__ == "__main__":
    main()
