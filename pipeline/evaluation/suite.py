"""Everything the evaluate stage measures about one trained model, as plain results (no I/O).

The registered model's metrics per split, the spread over training seeds, the modality and
graph ablations, gated-fusion weights when the model has them, and the data behind each plot.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch import nn
from torch_geometric.data import Data

from pipeline.config import Params
from pipeline.dataset import SPLITS
from pipeline.evaluation.ablation import inference_ablation, modality_weights_by_class, retrained_ablation
from pipeline.evaluation.embeddings import embedding_map, node_embeddings
from pipeline.evaluation.plots import reliability_bins
from pipeline.evaluation.predictions import probabilities, split_metrics
from pipeline.evaluation.retrain import threads_for
from pipeline.evaluation.spread import seed_spread, seeds_for
from pipeline.graph import GraphMeta
from pipeline.models import FusionModelConfig

Progress = Callable[[str], None]


@dataclass
class EvaluationResult:
    metrics: dict[str, dict]  # split -> evaluate_probs(...)
    spread: dict
    ablation: dict
    modality_weights: dict | None
    probs: np.ndarray
    reliability: list[dict[str, float]]
    embedding_coords: np.ndarray  # t-SNE, or the first two dimensions with evaluate.embedding_map off
    notes: list[str] = field(default_factory=list)


def split_fingerprint(data: Data, meta: GraphMeta) -> str:
    """A short hash of (node id, split) pairs: two runs compare only when it is equal."""
    lines = []
    for i, node_id in enumerate(meta.node_ids):
        split = next((s for s in SPLITS if bool(data[f"{s}_mask"][i])), "none")
        lines.append(f"{node_id}\t{split}")
    return hashlib.sha256("\n".join(lines).encode("utf-8")).hexdigest()[:16]


def _counted(say: Progress, seeds: list[int]) -> Callable[[int], None]:
    """Each finished seed as "seed 3 done (2/5)"."""
    return lambda seed: say(f"seed {seed} done ({seeds.index(seed) + 1}/{len(seeds)})")


def evaluate_model(
    model: nn.Module,
    config: FusionModelConfig,
    data: Data,
    meta: GraphMeta,
    params: Params,
    device: torch.device,
    progress: Progress | None = None,
) -> EvaluationResult:
    with threads_for(data):  # small graphs: one thread (see threads_for)
        say = progress or (lambda _message: None)
        classes = meta.classes
        notes: list[str] = []
        probs = probabilities(model, data, device)
        metrics = split_metrics(probs, data, classes)

        seeds, note = seeds_for(len(meta.node_ids), params.evaluate, params.train.seed)
        if note:
            notes.append(note)
        say(f"spread over {len(seeds)} training seed(s)")
        spread = seed_spread(model, config, data, classes, params.train, seeds, device, on_seed=_counted(say, seeds))

        models = spread.pop("models")
        say("ablation: masking each modality and the graph at inference")
        ablation = {
            "split": "test",
            "n_seeds": len(seeds),
            "inference": inference_ablation(models, data, classes, device),
        }
        if params.evaluate.retrain_ablation:
            say("ablation: retraining without each modality and without the graph")
            ablation["retrained"] = retrained_ablation(
                config, data, classes, params.train, device, models, seeds, on_condition=lambda c: say(f"retrained {c}")
            )
        weights, note = modality_weights_by_class(model, data, classes, device)
        if note:
            notes.append(note)

        test = data.test_mask.numpy() & (data.y.numpy() >= 0)
        confidence = probs[test].max(axis=1)
        correct = probs[test].argmax(axis=1) == data.y.numpy()[test]
        z = node_embeddings(model, data, device)
        # without the t-SNE (evaluate.embedding_map: false) the map is the embeddings' first two
        # dimensions: dvc.yaml declares the map's files, and a repro without them failed
        coords = z[:, :2]
        if params.evaluate.embedding_map:
            say("t-SNE map of the node embeddings")
            coords = embedding_map(z, seed=params.train.seed)
        return EvaluationResult(
            metrics=metrics,
            spread=spread,
            ablation=ablation,
            modality_weights=weights,
            probs=probs,
            reliability=reliability_bins(confidence, correct),
            embedding_coords=coords,
            notes=notes,
        )
