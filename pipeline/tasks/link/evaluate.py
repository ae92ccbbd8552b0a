"""Everything the evaluate stage measures about a link predictor, as plain results (no I/O).

Every number ranks the same fixed candidates (``lp_<split>_pos`` against ``lp_<split>_neg``):
the registered model; mean ± sd over training seeds; the same recipe with the graph taken out
of the encoder (backbone ``mlp``: a no-graph scorer of the nodes' own features, same decoder,
same seeds); and the modality/graph ablation at inference.
"""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch
from torch_geometric.data import Data

from pipeline.config import Params
from pipeline.device import threads_for_data
from pipeline.evaluation.spread import seeds_for
from pipeline.graph import GraphMeta
from pipeline.models import FusionModelConfig, LinkPredictor, build_model
from pipeline.tasks.link.metrics import METRIC_NAMES, ranking_metrics
from pipeline.tasks.link.train import candidate_scores, embed_nodes, train_link_predictor
from pipeline.training import options_from, seed_everything

Progress = Callable[[str], None]
EVAL_SPLITS = ("val", "test")
BASELINE = "no_graph_mlp"


@dataclass
class LinkEvaluation:
    metrics: dict[str, dict]  # split -> ranking_metrics(...)
    spread: dict  # {"seeds", "per_seed", "summary"}
    baseline: dict  # the no-graph scorer: {"backbone", "seeds", "per_seed", "summary"}
    ablation: dict
    test_scores: tuple[np.ndarray, np.ndarray]  # registered model: positive and negative probabilities
    notes: list[str] = field(default_factory=list)


def link_split_fingerprint(data: Data, meta: GraphMeta) -> str:
    """A short hash of the evaluation pairs and their candidates: runs compare only when equal."""
    digest = hashlib.sha256("\n".join(meta.node_ids).encode("utf-8"))
    for name in ("lp_train_pos", "lp_val_pos", "lp_val_neg", "lp_test_pos", "lp_test_neg"):
        digest.update(name.encode())
        digest.update(data[name].contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def split_scores(model: LinkPredictor, data: Data, device: torch.device, split: str, z=None):
    """(positive logits, candidate logits) of ``split`` on CPU."""
    z = embed_nodes(model, data, device) if z is None else z
    return candidate_scores(model.to("cpu"), z, data[f"lp_{split}_pos"], data[f"lp_{split}_neg"])


def link_metrics(model: LinkPredictor, data: Data, device: torch.device) -> dict[str, dict]:
    z = embed_nodes(model, data, device)
    return {split: ranking_metrics(*split_scores(model, data, device, split, z)) for split in EVAL_SPLITS}


def summarise(per_seed: list[dict]) -> dict:
    """``{split: {metric: {mean, sd}}}``, sample sd (None with one seed)."""
    out: dict = {}
    for split in EVAL_SPLITS:
        out[split] = {}
        for name in METRIC_NAMES:
            values = np.array([row[split][name] for row in per_seed], dtype=float)
            values = values[~np.isnan(values)]
            out[split][name] = {
                "mean": float(values.mean()) if values.size else None,
                "sd": float(values.std(ddof=1)) if values.size > 1 else None,
            }
    return out


def retrain_link(
    config: FusionModelConfig, data: Data, params: Params, seed: int, device: torch.device
) -> LinkPredictor:
    seed_everything(seed)
    model = build_model(config)
    result = train_link_predictor(
        model,
        data,
        device=device,
        options=options_from(params.train, seed=seed, checkpoint_every=0),
        negatives_per_positive=params.train.train_negatives,
    )
    model.load_state_dict(result.state_dict)
    return model.to("cpu").eval()


def _over_seeds(models: list[LinkPredictor], seeds: list[int], data: Data, device) -> dict:
    per_seed = [{"seed": s} | link_metrics(m, data, device) for s, m in zip(seeds, models, strict=True)]
    return {"seeds": seeds, "per_seed": per_seed, "summary": summarise(per_seed)}


def _masked(data: Data, drop: str) -> Data:
    """The graph with one modality hidden for every node, or (``graph``) with no edges."""
    out = data.clone()
    if drop == "graph":
        out.edge_index = torch.empty((2, 0), dtype=torch.long)
    else:
        out[f"mask_{drop}"] = torch.zeros_like(out[f"mask_{drop}"])
    return out


def inference_ablation(models: list[LinkPredictor], data: Data, device) -> dict:
    """Test MRR/Hits@10 (mean over seeds) with each modality masked and without the graph."""
    conditions = ["full", *[f"no_{m}" for m in models[0].modalities], "no_graph"]
    table = {}
    for condition in conditions:
        drop = condition.removeprefix("no_")
        view = data if condition == "full" else _masked(data, drop)
        rows = [ranking_metrics(*split_scores(m, view, device, "test")) for m in models]
        table[condition] = {
            name: float(np.mean([r[name] for r in rows])) for name in ("mrr", "hits_at_10", "roc_auc")
        } | {
            f"{name}_sd": float(np.std([r[name] for r in rows], ddof=1)) if len(rows) > 1 else None
            for name in ("mrr", "hits_at_10")
        }
    full = table["full"]
    for row in table.values():
        row["delta_mrr"] = row["mrr"] - full["mrr"]
    return table


def evaluate_link_model(
    model: LinkPredictor,
    config: FusionModelConfig,
    data: Data,
    meta: GraphMeta,
    params: Params,
    device: torch.device,
    progress: Progress | None = None,
) -> LinkEvaluation:
    say = progress or (lambda _message: None)
    with threads_for_data(data, torch.device("cpu")):
        notes: list[str] = []
        metrics = link_metrics(model, data, device)
        seeds, note = seeds_for(len(meta.node_ids), params.evaluate, params.train.seed)
        if note:
            notes.append(note)
        say(f"spread over {len(seeds)} training seed(s)")
        models = [model if s == params.train.seed else retrain_link(config, data, params, s, device) for s in seeds]
        spread = _over_seeds(models, seeds, data, device)
        say("no-graph baseline: the same recipe with an MLP encoder, same seeds and candidates")
        mlp = config.model_copy(update={"backbone": "mlp"})
        baseline_models = [retrain_link(mlp, data, params, s, device) for s in seeds]
        baseline = {"encoder": f"{mlp.fusion} x mlp", "decoder": config.decoder} | _over_seeds(
            baseline_models, seeds, data, device
        )
        say("ablation: masking each modality and the graph at inference")
        ablation = {"split": "test", "n_seeds": len(seeds), "inference": inference_ablation(models, data, device)}
        pos, neg = split_scores(model, data, device, "test")
        return LinkEvaluation(
            metrics=metrics,
            spread=spread,
            baseline=baseline,
            ablation=ablation,
            test_scores=(torch.sigmoid(pos).numpy(), torch.sigmoid(neg).numpy().reshape(-1)),
            notes=notes,
        )
