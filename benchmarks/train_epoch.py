"""GraphFuse's training epoch against a bare PyG loop: same model, same data, same run.

The bare loop is what a PyG user writes: zero_grad, forward, cross-entropy on the training
nodes, backward, AdamW step, then one eval forward for the validation accuracy. GraphFuse's
epoch adds what the pipeline needs (class weights, gradient clipping, the LR schedule,
train/val accuracy, macro-F1 and loss for early stopping). Prints the median epoch time of
each after warm-up, alternating rounds so load from other processes hits both alike, and the
ratio (target: <= 1.1).

Data: ``graphfuse synth --embeddings`` (pipeline.synth), 384 + 1280 + 32 float16 dims.

    .venv/bin/python benchmarks/train_epoch.py [--nodes 10000] [--epochs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time

import torch
import torch.nn.functional as F

from pipeline.config import TrainParams
from pipeline.models import FusionModelConfig, build_model
from pipeline.synth import SynthConfig
from pipeline.synth.embeddings import load_synthetic_embeddings, write_synthetic_embeddings
from pipeline.training import TrainOptions, seed_everything, train_node_classifier


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


def graphfuse_epochs(data, config: FusionModelConfig, defaults: TrainParams, epochs: int) -> list[float]:
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
        device=torch.device("cpu"),
        options=options,
        on_epoch=lambda epoch, row: stamps.append(time.perf_counter()),
    )
    return [b - a for a, b in zip(stamps[1:], stamps[2:], strict=False)]  # the first epoch is warm-up


def bare_pyg_epochs(data, config: FusionModelConfig, defaults: TrainParams, epochs: int) -> list[float]:
    seed_everything(0)
    model = build_model(config)
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per round (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fusion", default=None)
    parser.add_argument("--backbone", default=None)
    args = parser.parse_args()

    defaults = TrainParams()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_synthetic_embeddings(SynthConfig(nodes=args.nodes, avg_degree=10.0, seed=0), tmp)
        data, _ = load_synthetic_embeddings(tmp, mmap=False)
    overrides = {k: v for k, v in (("fusion", args.fusion), ("backbone", args.backbone)) if v}
    config = model_config(manifest, defaults, **overrides)
    print(f"{args.nodes} nodes, {data.edge_index.size(1)} directed edges, model {config.fusion}/{config.backbone}, "
          f"{torch.get_num_threads()} threads")  # fmt: skip
    ours, bare = [], []
    for _ in range(args.rounds):
        bare += bare_pyg_epochs(data, config, defaults, args.epochs)
        ours += graphfuse_epochs(data, config, defaults, args.epochs)
    ours_median, bare_median = statistics.median(ours), statistics.median(bare)
    print(f"bare PyG loop   median epoch {bare_median * 1000:8.1f} ms  ({len(bare)} epochs)")
    print(f"GraphFuse loop  median epoch {ours_median * 1000:8.1f} ms  ({len(ours)} epochs)")
    print(f"ratio GraphFuse / bare PyG: {ours_median / bare_median:.3f}  (target <= 1.1)")


if __name__ == "__main__":
    main()
