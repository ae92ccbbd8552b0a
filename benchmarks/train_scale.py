"""Peak memory and epoch time of training at 10^4, 10^5 and 10^6 synthetic nodes.

Each size is written by ``pipeline.synth`` (``graphfuse synth --embeddings``: 384 + 1280 + 32
dims stored as float16, average degree 10) and trained for one epoch, in a fresh process per
size so each peak RSS is that size's own. ``params.yaml``'s defaults decide the method:
full batch up to ``train.minibatch_threshold`` nodes, then precomputed SIGN hops in node
mini-batches (NeighborLoader needs pyg-lib/torch-sparse). One epoch = the training steps plus
the validation/training-accuracy pass; the SIGN propagation is timed apart (it runs once).
With ``--epochs N`` the first epoch is a warm-up and the epoch time is the median of the next N.
``--json`` writes the rows for ``benchmarks/run.py``: epoch time and peak RSS of the largest size
against the smallest (how they grow).

Safety: a size runs only if free memory covers its estimate, and a watchdog kills the child
if its RSS passes ``--rss-limit-gib`` or the machine's free memory drops under 1.5 GiB.

    .venv/bin/python benchmarks/train_scale.py [--nodes 10000 100000 1000000] [--rss-limit-gib 18]
"""

from __future__ import annotations

import argparse
import json
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402

GIB = 1024**3
DIMS = {"text": 384, "image": 1280, "tabular": 32}


def estimate_bytes(nodes: int, hops: int) -> int:
    """float16 features for hop 0..K, edges (int64, both directions), plus 2 GiB of working room."""
    features = nodes * sum(DIMS.values()) * 2 * (hops + 1)
    return features + nodes * 10 * 2 * 8 * 2 + 2 * GIB


def child(folder: Path, batching_param: str | None, epochs: int = 0) -> None:
    """Train one epoch of the default model on the folder; print a JSON line."""
    import torch

    from pipeline.config import TrainParams
    from pipeline.models import FusionModelConfig, build_model
    from pipeline.synth.embeddings import load_synthetic_embeddings
    from pipeline.training import TrainOptions, seed_everything, train_node_classifier
    from pipeline.training.batching import resolve_batching

    start = time.perf_counter()
    data, manifest = load_synthetic_embeddings(folder, mmap=True)
    defaults = TrainParams()
    batching = resolve_batching(
        batching_param or defaults.batching, data.num_nodes, defaults.minibatch_threshold, defaults.backbone
    )
    keys = ("fusion", "num_layers", "norm", "residual", "jk", "heads", "hops", "missing_token", "modality_dropout")
    config = FusionModelConfig(
        modality_dims=manifest["dims"],
        num_classes=len(manifest["classes"]),
        projection_dim=defaults.projection_dim,
        hidden_dim=defaults.hidden_dim,
        dropout=defaults.dropout,
        backbone="sign" if batching == "sign" else defaults.backbone,
        **{k: getattr(defaults, k) for k in keys},
    )
    seed_everything(0)
    model = build_model(config)
    stamps = {"setup": time.perf_counter()}
    ends: list[float] = []
    options = TrainOptions(max_epochs=1 + epochs, patience=10**6, batch_size=defaults.batch_size, batching=batching)
    result = train_node_classifier(
        model,
        data,
        num_classes=config.num_classes,
        device=torch.device("cpu"),
        options=options,
        on_epoch=lambda epoch, row: ends.append(time.perf_counter()),
    )
    first = ends[0] - stamps["setup"] - result.prepare_seconds
    timed = [b - a for a, b in zip(ends, ends[1:], strict=False)]
    print(
        json.dumps(
            {
                "nodes": data.num_nodes,
                "edges": int(data.edge_index.size(1)),
                "batching": result.batching,
                "model": f"{config.fusion}/{config.backbone}",
                "load_s": round(stamps["setup"] - start, 1),
                "prepare_s": round(result.prepare_seconds, 1),
                "epoch_s": round(statistics.median(timed) if timed else first, 2),
                "first_epoch_s": round(first, 2),
                "timed_epochs": len(timed),
                "peak_rss_gib": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024 / GIB, 2),
                "val_accuracy": round(result.history[-1]["val_accuracy"], 3),
            }
        ),
        flush=True,
    )


def run_size(nodes: int, workdir: Path, rss_limit: float, batching: str | None, epochs: int = 0) -> dict:
    from pipeline.synth import SynthConfig
    from pipeline.synth.embeddings import write_synthetic_embeddings

    folder = workdir / f"n{nodes}"
    started = time.perf_counter()
    write_synthetic_embeddings(SynthConfig(nodes=nodes, avg_degree=10.0, classes=10, seed=0), folder)
    generate_s = time.perf_counter() - started
    command = [sys.executable, __file__, "--child", str(folder), "--epochs", str(epochs)]
    command += ["--batching", batching] if batching else []
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    watched = psutil.Process(proc.pid)
    killed = None
    while proc.poll() is None:
        try:
            rss = watched.memory_info().rss
        except psutil.NoSuchProcess:
            break
        if rss > rss_limit * GIB or psutil.virtual_memory().available < 1.5 * GIB:
            proc.kill()
            killed = f"watchdog: RSS {rss / GIB:.1f} GiB, free {psutil.virtual_memory().available / GIB:.1f} GiB"
        time.sleep(0.2)
    out = proc.stdout.read() if proc.stdout else ""
    shutil.rmtree(folder, ignore_errors=True)
    if killed or proc.returncode != 0:
        return {"nodes": nodes, "error": killed or f"exit {proc.returncode}"}
    row = json.loads(out.strip().splitlines()[-1])
    row["generate_s"] = round(generate_s, 1)
    return row


def growth_rows(results: list[dict]) -> list[dict]:
    """Epoch time and peak RSS of the largest measured size against the smallest."""
    done = sorted((r for r in results if "error" not in r and "skipped" not in r), key=lambda r: r["nodes"])
    if len(done) < 2:
        return []
    small, large = done[0], done[-1]
    factor = large["nodes"] / small["nodes"]
    each = "; ".join(f"{r['nodes']:,}: {r['epoch_s']:g} s, {r['peak_rss_gib']:g} GiB ({r['batching']})" for r in done)
    size = f"{small['nodes']:,} -> {large['nodes']:,} nodes ({factor:.0f}x), avg degree 10 [{each}]"
    rss_target = {"op": "<", "value": 16.0, "issue": 6} if large["nodes"] >= 1_000_000 else None
    return [
        row(
            "scale_epoch_time",
            f"scale: epoch time at {large['nodes']:,} vs {small['nodes']:,} synthetic nodes (growth)",
            graphfuse=large["epoch_s"],
            baseline=small["epoch_s"],
            unit="s",
            better="lower",
            size=size,
            sizes=results,
        ),
        row(
            "scale_peak_rss",
            f"scale: peak RSS at {large['nodes']:,} vs {small['nodes']:,} synthetic nodes (growth)",
            graphfuse=large["peak_rss_gib"],
            baseline=small["peak_rss_gib"],
            unit="GiB",
            better="lower",
            size=size,
            target=rss_target,
            holds=(large["peak_rss_gib"] < 16.0) if rss_target else None,
        ),
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, nargs="+", default=[10_000, 100_000, 1_000_000])
    parser.add_argument("--rss-limit-gib", type=float, default=18.0)
    parser.add_argument(
        "--workdir", type=Path, default=None, help="where the synthetic data goes (default: a temp dir)"
    )
    parser.add_argument("--batching", choices=["auto", "full", "sign"], help="override train.batching")
    parser.add_argument("--epochs", type=int, default=0, help="timed epochs after a warm-up epoch (0: one epoch)")
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    parser.add_argument("--child", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        child(args.child, args.batching, args.epochs)
        return
    from pipeline.config import TrainParams

    hops = TrainParams().hops
    results = []
    with tempfile.TemporaryDirectory(dir=args.workdir) as tmp:
        for nodes in args.nodes:
            need = estimate_bytes(nodes, hops)
            free, disk = psutil.virtual_memory().available, shutil.disk_usage(tmp).free
            if need > free or nodes * sum(DIMS.values()) * 2 * 1.2 > disk:
                print(
                    f"skip {nodes} nodes: needs ~{need / GIB:.1f} GiB RAM, {free / GIB:.1f} free; disk {disk / GIB:.1f}"
                )
                results.append({"nodes": nodes, "skipped": f"needs ~{need / GIB:.1f} GiB, {free / GIB:.1f} free"})
                continue
            results.append(run_size(nodes, Path(tmp), args.rss_limit_gib, args.batching, args.epochs))
            print(json.dumps(results[-1]), flush=True)
    write_rows(args.json, growth_rows(results))


if __name__ == "__main__":
    main()
