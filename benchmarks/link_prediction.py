"""Link prediction on the real datasets: GraphFuse's encoder + decoder against the no-graph MLP scorer.

Each dataset is run as the pipeline runs it with ``dataset.task: link_prediction`` (params
override, the same folder and files): the validate, preprocess, build_graph, train and evaluate
stage functions in a project folder under ``--work``. The evaluate stage itself retrains every
seed for the GNN and for the no-graph scorer (backbone ``mlp``, same fusion, decoder, recipe and
seeds) and ranks both on the same fixed candidates, so the two columns are comparable.

    .venv/bin/python benchmarks/link_prediction.py --work /tmp/gf-lp --json benchmarks/results/link_prediction.json

Prints test MRR and Hits@10, mean ± sd over ``--seeds`` training seeds.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import yaml

sys.path.insert(0, str(Path(__file__).resolve().parent))
from docs_tables import link_table, write_link_docs  # noqa: E402

from pipeline.config import Params  # noqa: E402
from pipeline.paths import Paths  # noqa: E402
from pipeline.stages import build_graph, evaluate, preprocess, train, validate  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
DATASETS = {"countries": REPO / "data" / "raw" / "countries", "emoji": REPO / "data" / "raw" / "emoji"}


def params_for(dataset_dir: Path, args: argparse.Namespace, decoder: str) -> Params:
    raw = yaml.safe_load((REPO / "params.yaml").read_text())
    raw["dataset"].update(dir=str(dataset_dir), task="link_prediction")
    raw["validate"]["edge_split"] = args.split
    raw["preprocess"]["cache_dir"] = str(Path(args.work) / "embedding-cache")
    raw["preprocess_image"]["image_size"] = args.image_size
    raw["train"]["decoder"] = decoder
    raw["train"]["skip"] = args.skip
    raw["evaluate"].update(seeds=args.seeds, embedding_map=False)
    return Params.model_validate(raw)


def run_dataset(name: str, args: argparse.Namespace) -> dict:
    paths = Paths(Path(args.work) / name)
    paths.root.mkdir(parents=True, exist_ok=True)
    rows = {}
    for i, decoder in enumerate(args.decoders):
        params = params_for(DATASETS[name], args, decoder)
        started = time.perf_counter()
        if i == 0:  # the data stages do not depend on the decoder
            validate.run(params, paths)
            preprocess.run_text(params, paths)
            preprocess.run_image(params, paths)
            preprocess.run_tabular(params, paths)
            graph = build_graph.run(params, paths)
            print(f"{name}: {graph['notes'][-1] if graph['notes'] else ''}", flush=True)
        train.run(params, paths)
        evaluate.run(params, paths)
        metrics = json.loads((paths.metrics / "metrics_detail.json").read_text())
        rows[decoder] = {
            "test": {k: metrics["spread"]["test"][k] for k in ("mrr", "hits_at_10")},
            "val": {k: metrics["spread"]["val"][k] for k in ("mrr", "hits_at_10")},
            "no_graph_mlp_test": {k: metrics["no_graph_mlp"]["test"][k] for k in ("mrr", "hits_at_10")},
            "n_test": metrics["test"]["n"],
            "seconds": round(time.perf_counter() - started, 1),
        }
        print(f"{name} {decoder}: {json.dumps(rows[decoder])}", flush=True)
    counts = json.loads((paths.dataset / "dataset.json").read_text())["counts"]
    return {"edge_splits": counts.get("edge_splits"), "nodes": counts["nodes"], "decoders": rows}


def _cell(stat: dict) -> str:
    sd = stat.get("sd")
    return f"{stat['mean']:.3f} ± {sd:.3f}" if sd is not None else f"{stat['mean']:.3f}"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", default="/tmp/gf-lp")
    parser.add_argument("--datasets", nargs="+", default=list(DATASETS), choices=list(DATASETS))
    parser.add_argument("--decoders", nargs="+", default=["dot", "distmult", "mlp"])
    parser.add_argument("--split", default="random", choices=["random", "inductive"])
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--image-size", type=int, default=112, help="pixels fed to the image encoder")
    parser.add_argument("--skip", action="store_true", help="train.skip: the backbones' input-to-output path")
    parser.add_argument("--json", type=Path, default=None)
    parser.add_argument("--docs", action="store_true", help="also write the table into docs/link-prediction.md")
    parser.add_argument("--render", type=Path, help="only print (and with --docs write) the table of an earlier --json")
    args = parser.parse_args()
    if args.render:
        payload = json.loads(args.render.read_text())
        print(link_table(payload))
        if args.docs:
            print(f"updated the table in {write_link_docs(payload)}")
        return
    os.environ.setdefault("CI", "1")
    os.environ.pop("MLFLOW_TRACKING_URI", None)
    results = {name: run_dataset(name, args) for name in args.datasets}
    print(f"\ntest split ({args.split} edge split), mean ± sd over {args.seeds} training seeds; same candidates")
    print(f"{'dataset':<10} {'decoder':<9} {'MRR':<15} {'Hits@10':<15} {'no-graph MRR':<15} {'no-graph Hits@10':<15}")
    for name, result in results.items():
        for decoder, row in result["decoders"].items():
            cells = [_cell(row["test"]["mrr"]), _cell(row["test"]["hits_at_10"])]
            cells += [_cell(row["no_graph_mlp_test"]["mrr"]), _cell(row["no_graph_mlp_test"]["hits_at_10"])]
            print(f"{name:<10} {decoder:<9} " + " ".join(f"{c:<15}" for c in cells))
    settings = {"split": args.split, "seeds": args.seeds, "image_size": args.image_size, "skip": args.skip}
    if args.json:
        args.json.write_text(json.dumps({"settings": settings, "results": results}, indent=2) + "\n")
    if args.docs:
        print(f"updated the table in {write_link_docs({'settings': settings, 'results': results})}")


if __name__ == "__main__":
    main()
