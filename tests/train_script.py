"""Train a tiny graph and write the weights: run by tests as a real process (killed mid-run, or
under ``torchrun`` as two DDP processes). Usage: ``python -m tests.train_script OUT [options]``."""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch
from safetensors.torch import save_file

from pipeline.models import build_model
from pipeline.training import TrainOptions, TrainResult, process_group, seed_everything, train_node_classifier
from tests.tiny_graphs import tiny_config, two_community_graph

OPTIONS = TrainOptions(lr=0.01, max_epochs=30, patience=100, checkpoint_every=2, class_weights="balanced")


def train(checkpoint: Path | None = None, sleep: float = 0.0, device: torch.device | None = None) -> TrainResult:
    """The same run in the test process and in the scripts: dropout and modality dropout on."""
    torch.set_num_threads(1)
    data, _ = two_community_graph(60, image_missing=0.3)
    seed_everything(0)
    model = build_model(tiny_config(data, fusion="gated", dropout=0.2, missing_token=True, modality_dropout=0.2))
    return train_node_classifier(
        model,
        data,
        num_classes=2,
        device=device or torch.device("cpu"),
        options=OPTIONS,
        checkpoint_dir=checkpoint,
        fingerprint="tiny",
        on_epoch=(lambda epoch, row: time.sleep(sleep)) if sleep else None,
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("out", type=Path)
    parser.add_argument("--checkpoint", type=Path)
    parser.add_argument("--sleep", type=float, default=0.0, help="seconds per epoch, to give a killer time")
    args = parser.parse_args()
    with process_group(torch.device("cpu")) as (ctx, device):
        result = train(args.checkpoint, args.sleep, device)
        if ctx.is_main:
            args.out.mkdir(parents=True, exist_ok=True)
            save_file(result.state_dict, str(args.out / "weights.safetensors"))
            summary = {
                "resumed_from": result.resumed_from,
                "history": result.history,
                "world": ctx.world_size,
                "trained_nodes": result.trained_nodes,
            }
            (args.out / "result.json").write_text(json.dumps(summary))


if __name__ == "__main__":
    main()
