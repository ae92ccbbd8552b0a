"""GraphFuse's training epoch against a bare PyG loop: same model, data, device and threads.

Both sides train the default model (``params.yaml``'s train section: early fusion x GraphSAGE with
the same projections, missing tokens and modality dropout), built from the same seed, on the same
tensors, in the same process and with the same torch thread count: the one GraphFuse's loop picks
(``pipeline.device.threads_for_data``: one thread for graphs under 10^7 feature values).
The two loops run interleaved, epoch by epoch (a bare epoch runs inside GraphFuse's per-epoch
callback, outside GraphFuse's timing), so a change in the machine's load hits both alike; each
round builds both models afresh and drops its first epoch (warm-up); the figures are the medians
of the remaining epochs, in wall time (the row) and in this process's CPU time (printed beside it:
steadier when other jobs share the cores).

Per epoch, the bare loop (what a PyG user writes) does: ``train()``, ``zero_grad``, forward,
cross-entropy on the training nodes, backward, AdamW step, then ``eval()`` and one no-grad forward
for the validation accuracy (on CUDA both sides use GraphFuse's autocast precision). GraphFuse's
epoch does the same two forwards and one step, plus what early stopping and the defaults need:
the class-weighted loss (weights of one by default), gradient-norm clipping, the plateau LR
schedule's step, the epoch's train accuracy, val loss, accuracy and macro-F1 (read back in one
transfer), the best-epoch copy of the weights when val improves, and the early-stopping check.
Checkpoints (every ``checkpoint_every`` epochs in the train stage, none here) are timed apart and
printed as their cost per epoch.

When torch's default thread count differs from the one GraphFuse picks, the bare loop is also
timed at the default, to show what the one-thread rule costs or saves on this machine and load.
``--device cuda`` runs both on the GPU; ``--profile`` prints where GraphFuse's epoch goes
(cProfile); ``--json`` writes the row for ``benchmarks/run.py``.

Data: ``graphfuse synth --embeddings`` (pipeline.synth), 384 + 1280 + 32 float16 dims.

    .venv/bin/python benchmarks/train_epoch.py [--nodes 10000] [--epochs 20] [--rounds 3]
"""

from __future__ import annotations

import argparse
import cProfile
import pstats
import statistics
import sys
import tempfile
import time
from pathlib import Path

import torch
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_rows import median_seconds, row, write_rows  # noqa: E402

from pipeline.config import TrainParams  # noqa: E402
from pipeline.device import autocast_dtype  # noqa: E402
from pipeline.models import FusionModelConfig, build_model  # noqa: E402
from pipeline.synth import SynthConfig  # noqa: E402
from pipeline.synth.embeddings import load_synthetic_embeddings, write_synthetic_embeddings  # noqa: E402
from pipeline.training import TrainOptions, seed_everything, threads_for_data, train_node_classifier  # noqa: E402
from pipeline.training.checkpoint import TrainState, save_checkpoint  # noqa: E402


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


def train_options(defaults: TrainParams, epochs: int) -> TrainOptions:
    """The defaults, full batch, never stopping early, no checkpoints (timed apart)."""
    return TrainOptions(
        lr=defaults.lr,
        weight_decay=defaults.weight_decay,
        max_epochs=epochs + 1,
        patience=10**6,
        scheduler=defaults.scheduler,
        class_weights=defaults.class_weights,
        grad_clip=defaults.grad_clip,
        precision=defaults.precision,
        batching="full",
    )


def _clocks() -> tuple[float, float]:
    """Wall time and this process's CPU time (all its threads): other jobs' load shows in the first."""
    return time.perf_counter(), time.process_time()


class BareLoop:
    """The loop a PyG user writes, one epoch per call: the model, optimiser and tensors stay."""

    def __init__(self, data, config: FusionModelConfig, defaults: TrainParams, device: str = "cpu") -> None:
        seed_everything(0)
        self.model = build_model(config).to(device)
        data = data.to(device)
        # GraphFuse's precision (fp32 on CPU; bf16/fp16 autocast on CUDA): both run the same arithmetic.
        self.device_type = torch.device(device).type
        self.amp = autocast_dtype(defaults.precision, torch.device(device))
        self.scaler = torch.amp.GradScaler(self.device_type, enabled=self.amp == torch.float16)
        names = self.model.modalities
        self.xs = {m: data[f"x_{m}"] for m in names}
        self.masks = {m: data[f"mask_{m}"] for m in names}
        self.edge_index, self.y = data.edge_index, data.y
        self.train, self.val = data.train_mask, data.val_mask
        self.optimizer = torch.optim.AdamW(self.model.parameters(), lr=defaults.lr, weight_decay=defaults.weight_decay)

    def epoch(self) -> tuple[float, float]:
        """One epoch; its (wall, cpu) seconds."""
        model, optimizer, scaler, y = self.model, self.optimizer, self.scaler, self.y
        start = _clocks()
        model.train()
        optimizer.zero_grad()
        with torch.autocast(self.device_type, dtype=self.amp or torch.float32, enabled=self.amp is not None):
            loss = F.cross_entropy(model(self.xs, self.masks, self.edge_index)[self.train], y[self.train])
        scaler.scale(loss).backward()
        scaler.step(optimizer)
        scaler.update()
        model.eval()
        with (
            torch.no_grad(),
            torch.autocast(self.device_type, dtype=self.amp or torch.float32, enabled=self.amp is not None),
        ):
            _ = float((model(self.xs, self.masks, self.edge_index)[self.val].argmax(-1) == y[self.val]).float().mean())
        end = _clocks()
        return end[0] - start[0], end[1] - start[1]


def paired_epochs(
    data, config: FusionModelConfig, defaults: TrainParams, epochs: int, device: str = "cpu"
) -> tuple[list[tuple[float, float]], list[tuple[float, float]]]:
    """GraphFuse's epochs and the bare loop's, interleaved epoch by epoch (a bare epoch runs in
    GraphFuse's ``on_epoch``, outside GraphFuse's timing), so that a change in the machine's load
    hits both alike. (wall, cpu) seconds of each epoch after the first (warm-up) of each."""
    bare_loop = BareLoop(data, config, defaults, device)
    seed_everything(0)
    model = build_model(config)
    ours: list[tuple[float, float]] = []
    bare: list[tuple[float, float]] = []
    started = [_clocks()]

    def on_epoch(epoch: int, row: dict) -> None:
        end = _clocks()
        ours.append((end[0] - started[0][0], end[1] - started[0][1]))
        bare.append(bare_loop.epoch())
        started[0] = _clocks()

    train_node_classifier(
        model,
        data,
        num_classes=config.num_classes,
        device=torch.device(device),
        options=train_options(defaults, epochs),
        on_epoch=on_epoch,
    )
    return ours[1:], bare[1:]


def bare_pyg_epochs(
    data, config: FusionModelConfig, defaults: TrainParams, epochs: int, device: str = "cpu"
) -> list[tuple[float, float]]:
    """The bare loop alone: (wall, cpu) seconds of each epoch after the first (warm-up)."""
    bare_loop = BareLoop(data, config, defaults, device)
    return [bare_loop.epoch() for _ in range(epochs + 1)][1:]


def checkpoint_seconds(config: FusionModelConfig, defaults: TrainParams, epoch: int = 100) -> float:
    """Median time of one checkpoint write as the train stage makes it at ``epoch``: the model, AdamW's
    moments, the schedule, the best weights and ``epoch`` history rows (safetensors + JSON)."""
    model = build_model(config)
    optimizer = torch.optim.AdamW(model.parameters(), lr=defaults.lr)
    for p in model.parameters():
        p.grad = torch.zeros_like(p)
    optimizer.step()  # creates the moments a real checkpoint carries
    scheduler = torch.optim.lr_scheduler.ReduceLROnPlateau(optimizer)
    figures = ("train_loss", "train_accuracy", "val_loss", "val_accuracy", "val_macro_f1")
    history = [{"epoch": e, **dict.fromkeys(figures, 0.123456789)} for e in range(1, epoch + 1)]
    state = TrainState(
        epoch=epoch,
        model=model.state_dict(),
        optimizer=optimizer.state_dict(),
        scheduler=scheduler.state_dict(),
        scaler=None,
        best_state={k: v.clone() for k, v in model.state_dict().items()},
        best_score=[-0.5],
        best_epoch=epoch,
        history=history,
    )
    with tempfile.TemporaryDirectory() as tmp:
        seconds, _ = median_seconds(lambda: save_checkpoint(Path(tmp), state, "bench"), repeats=5)
    return seconds


def measure(nodes: int, epochs: int, rounds: int, device: str = "cpu", profile: bool = False, **overrides) -> dict:
    """Median epoch of each loop over interleaved rounds, as a row."""
    defaults = TrainParams()
    with tempfile.TemporaryDirectory() as tmp:
        manifest = write_synthetic_embeddings(SynthConfig(nodes=nodes, avg_degree=10.0, seed=0), tmp)
        data, _ = load_synthetic_embeddings(tmp, mmap=False)
    config = model_config(manifest, defaults, **{k: v for k, v in overrides.items() if v})
    default_threads = torch.get_num_threads()
    ours, bare, bare_default = [], [], []
    with threads_for_data(data, torch.device(device)):  # what GraphFuse's loop picks; the bare loop gets it too
        threads = torch.get_num_threads()
        print(f"{nodes} nodes, {data.edge_index.size(1)} directed edges, model {config.fusion}/{config.backbone}, "
              f"device {device}, {threads} thread(s) for both loops (torch's default: {default_threads})")  # fmt: skip
        for _ in range(rounds):
            ours_round, bare_round = paired_epochs(data, config, defaults, epochs, device)
            ours += ours_round
            bare += bare_round
        if threads != default_threads:  # one round: what the one-thread rule saves or costs
            torch.set_num_threads(default_threads)
            bare_default += bare_pyg_epochs(data, config, defaults, epochs, device)
            torch.set_num_threads(threads)
        if profile:
            profiler = cProfile.Profile()
            seed_everything(0)
            model, options = build_model(config), train_options(defaults, epochs)
            profiler.runcall(
                train_node_classifier,
                model,
                data,
                num_classes=config.num_classes,
                device=torch.device(device),
                options=options,
            )
            pstats.Stats(profiler).sort_stats("tottime").print_stats(20)
    (ours_wall, ours_cpu), (bare_wall, bare_cpu) = _medians(ours), _medians(bare)
    checkpoint = checkpoint_seconds(config, defaults)
    every = defaults.checkpoint_every
    for name, spans, wall, cpu in (
        ("bare PyG loop ", bare, bare_wall, bare_cpu),
        ("GraphFuse loop", ours, ours_wall, ours_cpu),
    ):
        print(f"{name}  median epoch {wall * 1000:8.1f} ms wall, {cpu * 1000:8.1f} ms CPU  ({len(spans)} epochs)")
    print(
        f"ratio GraphFuse / bare PyG: {ours_wall / bare_wall:.3f} wall (target <= 1.1), "
        f"{ours_cpu / bare_cpu:.3f} CPU time"
    )
    extra: dict = {
        "threads": threads,
        "default_threads": default_threads,
        "cpu_seconds": {"graphfuse": ours_cpu, "baseline": bare_cpu, "ratio": ours_cpu / bare_cpu},
        "epochs_graphfuse": [round(wall, 4) for wall, _ in ours],
        "epochs_baseline": [round(wall, 4) for wall, _ in bare],
    }
    if bare_default:
        default_wall, _ = _medians(bare_default)
        extra["bare_default_threads_seconds"] = default_wall
        print(
            f"bare PyG loop at torch's default {default_threads} threads: {default_wall * 1000:.1f} ms wall "
            f"(GraphFuse / that: {ours_wall / default_wall:.3f}; graphs under 10^7 feature values train on "
            "one thread: pipeline/device.py)"
        )
    print(
        f"checkpoint write (train stage, every {every} epochs): {checkpoint * 1000:.1f} ms, "
        f"{checkpoint / every * 1000:.2f} ms an epoch = {checkpoint / every / ours_wall:.1%} of GraphFuse's epoch"
    )
    return row(
        "train_epoch",
        f"training epoch ({config.fusion}/{config.backbone}, full batch) vs a bare PyG loop, same model, data "
        "and threads",
        graphfuse=ours_wall,
        baseline=bare_wall,
        unit="s",
        better="lower",
        size=f"{nodes} nodes, avg degree 10, {threads} thread(s) both, median of {len(ours)} epochs "
        f"({rounds} rounds, interleaved epoch by epoch, after warm-up); CPU-time ratio {ours_cpu / bare_cpu:.2f}",
        target={"op": "<=", "ratio": 1.1, "issue": 6},
        device=device,
        checkpoint_seconds=checkpoint,
        checkpoint_every=every,
        **extra,
    )


def _medians(spans: list[tuple[float, float]]) -> tuple[float, float]:
    """Median wall and median CPU seconds."""
    return statistics.median(w for w, _ in spans), statistics.median(c for _, c in spans)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--nodes", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=20, help="timed epochs per round (after one warm-up)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--fusion", default=None)
    parser.add_argument("--backbone", default=None)
    parser.add_argument("--device", default="cpu", help="cpu or cuda")
    parser.add_argument("--profile", action="store_true", help="print where GraphFuse's epoch goes (cProfile)")
    parser.add_argument("--json", type=Path, help="write the row for benchmarks/run.py")
    args = parser.parse_args()
    if args.device.startswith("cuda") and not torch.cuda.is_available():
        raise SystemExit(f"--device {args.device}: torch {torch.__version__} sees no CUDA device")
    result = measure(
        args.nodes, args.epochs, args.rounds, args.device, args.profile, fusion=args.fusion, backbone=args.backbone
    )
    write_rows(args.json, [result])


if __name__ == "__main__":
    main()
