"""GraphFuse's training epoch against a bare PyG loop: same model, same data, same run.

The bare loop is what a PyG user writes: zero_grad, forward, cross-entropy on the training
nodes, backward, AdamW step, then one eval forward for the validation accuracy. GraphFuse's
epoch adds what the pipeline needs (class weights, gradient clipping, the LR schedule,
train/val accuracy, macro-F1 and loss for early stopping). Prints the median epoch time of
each after warm-up, alternating rounds so load from other processes hits both alike, and the
ratio (target: <= 1.1). ``--device cuda`` runs both on the GPU; ``--json`` writes the row for
``benchmarks/run.py``.

Data: ``graphfuse synth --embeddings`` (pipeline.synth), 384 + 1280 + 32 float16 dims.

    .venv/bin/python benchmarks/train_epoch.py [--nodes 10000] [--epochs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import row, write_rows  # noqa: E402

from pipeline.config import TrainParams  # noqa: E402
from pipeline.models import FusionModelConfig, build_model  # noqa: E402
from pipeline.synth import SynthConfig  # noqa: E402
from pipeline.synth.embeddings import load_synthetic_embeddings, write_synthetic_embeddings  # noqa: E402
from pipeline.training import TrainOptions, seed_everything, train_node_classifier  # noqa: E402


def model_config(manifest: dict, defaults: TrainParams, **overrides) -> FusionModelConfig:
    keys = ("fusion", "backbone", "num_layers", "norm", "residual", "jk", "heads", "hops", "missing_token")
    return FusionModelConfig(
        modality_dims=manifest["dims"],
        num_classes=len(manifest["classes"]),
        projection_dim=defaults.projection_dim,
        hidden_dim=defaults.hidden_dim,
        dropout=defaults.dropout,
        modality_dropout=defaults.modality_dropout,
        **({k: getattr(defaults, k) for k in keys} | overrides),
    )


def graphfuse_epochs(
    data, config: FusionModelConfig, defaults: TrainParams, epochs: int, device: str = "cpu"
) -> list[float]:
    seed_everything(0)
    model = build_model(config)
    stamps: list[float] = []
    options = TrainOptions(
        lr=defaults.lr,
        weight_decay=defaults.weight_decay,
        max_epochs=epochs + 1,
        patience=10**6,
        scheduler=defaults.scheduler,
        class_weights=defaults.class_weights,
        grad_clip=defaults.grad_clip,
        batching="full",
    )
    stamps.append(time.perf_counter())
    train_node_classifier(
        model,
        data,
        num_classes=config.num_classes,
        device=torch.device(device),
        options=options,
        on_epoch=lambda epoch, row: stamps.append(time.perf_counter()),
    )
    return [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]  # the first epoch is warm-up


def bare_pyg_epochs(
    data, config: FusionModelConfig, defaults: TrainParams, epochs: int, device: str = "cpu"
) -> list[float]:
    seed_everything(0)
    model = build_model(config).to(device)
    data = data.to(device)
    names = model.modalities
    xs = {m: data[f"x_{m}"] for m in names}
    masks = {m: data[f"mask_{m}"] for m in names}
    edge_index, y = data.edge_index, data.y
    train, val = data.train_mask, data.val_mask
    optimizer = torch.optim.AdamW(model.parameters(), lr=defaults.lr, weight_decay=defaults.weight_decay)
    times = []
    for _ in range(epochs + 1):
        start = time.perf_counter()
        model.train()
        optimizer.zero_grad()
        loss = F.cross_entropy(model(xs, masks, edge_index)[train], y[train])
        loss.backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            _ = float((model(xs, masks, edge_index)[val].argmax(-1) == y[val]).float().mean())
        times.append(time.perf_counter() - start)
    return times[1:]


def measure(nodes: int, epochs: int, rounds: int, device: str = "cpu", **overrides: str) -> dict:
    """Median epoch of each loop over alternating rounds, as a row."""
    defaults = TrainParams()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_synthetic_embeddings(SynthConfig(nodes=nodes, avg_degree=10.0, seed=0), tmp)
        data, _ = load_synthetic_embeddings(tmp, mmap=False)
    config = model_config(manifest, defaults, **{k: v for k, v in overrides.items() if v})
    print(f"{nodes} nodes, {data.edge_index.size(1)} directed edges, model {config.fusion}/{config.backbone}, "
          f"{torch.get_num_threads()} threads, device {device}")  # fmt: skip
    ours, bare = [], []
    for _ in range(rounds):
        bare += bare_pyg_epochs(data, config, defaults, epochs, device)
        ours += graphfuse_epochs(data, config, defaults, epochs, device)
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    print(f"bare PyG loop   median epoch {bare_median * 1000:8.1f} ms  ({len(bare)} epochs)")
    print(f"GraphFuse loop  median epoch {ours_median * 1000:8.1f} ms  ({len(ours)} epochs)")
    print(f"ratio GraphFuse / bare PyG: {ours_median / bare_median:.3f}  (target <= 1.1)")
    return row(
        "train_epoch",
        f"training epoch ({config.fusion}/{config.backbone}, full batch) vs a bare PyG loop, same model and data",
        graphfuse=ours_median,
        baseline=bare_median,
        unit="s",
        better="lower",
        size=f"{nodes} nodes, avg degree 10, median of {len(ours)} epochs ({rounds} rounds after warm-up)",
        target={"op": "<=", "ratio": 1.1, "issue": 6},
        device=device,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per round (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fusion", default=None)
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--json", type=Path, help="write the row here (for benchmarks/run.py)")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    result = measure(args.nodes, args.epochs, args.rounds, args.device, fusion=args.fusion, backbone=args.backbone)
    write_rows(args.json, [result])


if __name__ == "__main__":
    main()
