"""GraphFuse's default model against what a user would fit instead, on the real datasets (by default)
or on the accuracy table's synthetic ones (``--datasets``).

Baselines, all on the same frozen embeddings, graph and split the pipeline builds (features from
``table_data.prepared``: the real validate and preprocess stages, cached under ``--work``):

- scikit-learn ``LogisticRegression`` on each modality alone, on all modalities concatenated, and
  on the concatenation plus the mean of each node's graph neighbours (one hop, isolated nodes get
  zeros). Inputs are standardised on the train nodes; ``C`` is chosen from
  ``C_GRID`` by validation accuracy. A modality's presence mask is an extra column. L-BFGS on a
  convex loss: the fit does not depend on the seed, so its sd over seeds is 0 and it runs once.
- a hand-written 2-layer GraphSAGE on the concatenated embeddings and the dataset's edges, as in
  PyG's examples (hidden 64, dropout 0.5, Adam lr 0.01, weight decay 5e-4, 200 epochs), scored at
  its best validation epoch.
- with ``--autogluon-python PATH``: AutoGluon-Tabular 1.6 (``medium_quality``, a 2-minute
  ``time_limit``, the val nodes as ``tuning_data``, no bagging, so test is never read while fitting)
  on the same features as "LR on all + neighbour mean", one fit per seed. AutoGluon needs pandas
  < 2.4 and torch < 2.14, so it runs in its own venv (``PATH`` is that venv's python): this script
  exports the features, labels and split to ``--work/autogluon/<dataset>/features.npz`` and runs
  ``autogluon_baseline.py`` there as a subprocess, which writes JSON beside it (no pickle either
  way) and its model folders under ``--work/autogluon/<dataset>/models``. Without the option the
  row is left out (``benchmarks/run.py`` does not pass it).

GraphFuse: ``params.yaml``'s default model trained with the train stage's recipe
(``pipeline.evaluation.retrain``: the same code the evaluate stage's spread uses). Test accuracy
in %, mean ± sd over training seeds 0..N-1; the split is the pipeline's fixed stratified 60/20/20
(``validate.seed`` 42). ``--json`` writes one row per dataset and baseline for ``benchmarks/run.py``.

    .venv/bin/python benchmarks/accuracy_baselines.py --work .cache/graphfuse/bench [--seeds 5] \
        [--autogluon-python /work/agvenv/bin/python] [--lr-only]

``--lr-only`` fits the logistic regressions alone (seconds once the features are cached): no
GraphFuse retraining (its figure is ``null`` in the rows), no SAGE, no AutoGluon.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
from pathlib import Path

os.environ.setdefault("CI", "1")
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch  # noqa: E402
import torch.nn.functional as F  # noqa: E402
from autogluon_baseline import PRESET, TIME_LIMIT, export_features, run_autogluon  # noqa: E402
from bench_rows import row, write_rows  # noqa: E402
from lockbox import parse_with_datasets  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402
from table_data import DATASETS, REAL, prepared  # noqa: E402
from torch import nn  # noqa: E402
from torch_geometric.nn import SAGEConv  # noqa: E402
from torch_geometric.nn.aggr import MeanAggregation  # noqa: E402

from pipeline.config import Params  # noqa: E402
from pipeline.evaluation.predictions import probabilities  # noqa: E402
from pipeline.evaluation.retrain import retrain, threads_for  # noqa: E402
from pipeline.graph import load_graph  # noqa: E402
from pipeline.models import FusionModelConfig  # noqa: E402
from pipeline.stages import build_graph  # noqa: E402
from pipeline.stages.train import MODEL_KEYS  # noqa: E402

CPU = torch.device("cpu")

C_GRID = (0.01, 0.1, 1.0, 10.0)


def graph(params: Params, paths):
    """The graph the pipeline builds with these params (build_graph stage), loaded."""
    build_graph.run(params, paths)
    return load_graph(paths.graph)


def graphfuse_test_accuracy(data, meta, params: Params, seed: int) -> float:
    """params.yaml's model, trained as the train stage trains it, with training seed ``seed``."""
    settings = params.train
    config = FusionModelConfig(
        modality_dims=meta.modalities,
        num_classes=len(meta.classes),
        projection_dim=settings.projection_dim,
        hidden_dim=settings.hidden_dim,
        dropout=settings.dropout,
        backbone=settings.backbone,
        **{k: getattr(settings, k) for k in MODEL_KEYS},
    )
    with threads_for(data):
        model = retrain(config, data, settings, seed=seed, device=CPU).model
    pred = probabilities(model, data, CPU).argmax(1)
    test = data.test_mask.numpy()
    return float((pred[test] == data.y.numpy()[test]).mean())


class HandWrittenSAGE(nn.Module):
    """``SAGEConv(in, 64) -> ReLU -> dropout -> SAGEConv(64, classes)``, as in PyG's examples."""

    def __init__(self, in_channels: int, hidden: int, classes: int, dropout: float = 0.5) -> None:
        super().__init__()
        self.conv1, self.conv2, self.dropout = SAGEConv(in_channels, hidden), SAGEConv(hidden, classes), dropout

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        h = F.dropout(F.relu(self.conv1(x, edge_index)), self.dropout, self.training)
        return self.conv2(h, edge_index)


def sage_test_accuracy(x: np.ndarray, data, num_classes: int, seed: int, epochs: int) -> float:
    """Test accuracy at the best validation epoch (which favours the baseline: it peeks every epoch)."""
    torch.manual_seed(seed)
    features, y = torch.from_numpy(x).float(), data.y
    model = HandWrittenSAGE(features.size(1), 64, num_classes)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.01, weight_decay=5e-4)
    best_val, test_at_best = -1.0, 0.0
    for _ in range(epochs):
        model.train()
        optimizer.zero_grad()
        F.cross_entropy(model(features, data.edge_index)[data.train_mask], y[data.train_mask]).backward()
        optimizer.step()
        model.eval()
        with torch.no_grad():
            pred = model(features, data.edge_index).argmax(-1)
        val = (pred[data.val_mask] == y[data.val_mask]).float().mean().item()
        if val > best_val:
            best_val, test_at_best = val, (pred[data.test_mask] == y[data.test_mask]).float().mean().item()
    return test_at_best


def modality_block(data, modality: str) -> np.ndarray:
    """A modality's embeddings with its presence mask as one more column."""
    x = data[f"x_{modality}"].float()
    return torch.cat([x, data[f"mask_{modality}"].float().view(-1, 1)], dim=1).numpy()


def neighbour_mean(x: np.ndarray, edge_index: torch.Tensor) -> np.ndarray:
    """Mean of each node's in-neighbours' rows (zeros for a node without edges)."""
    t = torch.from_numpy(x)
    return MeanAggregation()(t[edge_index[0]], edge_index[1], dim_size=t.size(0)).numpy()


def concatenation(plain, meta) -> np.ndarray:
    """Every modality's block (embedding and presence mask) side by side."""
    return np.concatenate([modality_block(plain, m) for m in meta.modalities], axis=1)


def with_neighbour_mean(x: np.ndarray, edge_index: torch.Tensor) -> np.ndarray:
    """``x`` next to its mean over each node's neighbours (AutoGluon's and the last LR's input)."""
    return np.concatenate([x, neighbour_mean(x, edge_index)], axis=1)


def logistic_accuracy(x: np.ndarray, data) -> tuple[float, float, float]:
    """(val, test, C): standardised on train nodes, C picked by validation accuracy."""
    train, val, test = (data[k].numpy() for k in ("train_mask", "val_mask", "test_mask"))
    y = data.y.numpy()
    scaler = StandardScaler().fit(x[train])
    z = scaler.transform(x)
    best = (-1.0, 0.0, 0.0)
    for c in C_GRID:
        model = LogisticRegression(C=c, max_iter=2000).fit(z[train], y[train])
        val_acc = float((model.predict(z[val]) == y[val]).mean())
        if val_acc > best[0]:
            best = (val_acc, float((model.predict(z[test]) == y[test]).mean()), c)
    return best


def autogluon_result(x: np.ndarray, data, name: str, seeds: int, python: str, time_limit: float, work: Path):
    """AutoGluon's fits on ``x`` in its own interpreter, as a baseline entry (test accuracy per seed)."""
    folder = work / "autogluon" / name
    masks = {split: data[f"{split}_mask"].numpy() for split in ("train", "val", "test")}
    features = export_features(folder / "features.npz", x, data.y.numpy(), masks, name)
    result = run_autogluon(python, features, folder / "models", seeds, time_limit)
    runs = result.pop("seeds")
    return {"test": [r["test_accuracy"] for r in runs], "autogluon": result | {"runs": runs}}


def baseline_results(
    name: str, plain, meta, seeds: int, epochs: int, autogluon: dict | None, lr_only: bool = False
) -> dict[str, dict]:
    """Test accuracies (one per seed, or one for seed-free fits) of every baseline on ``plain``
    (``lr_only``: the logistic regressions alone)."""
    baselines: dict[str, dict] = {}
    for modality in meta.modalities:
        val, test, c = logistic_accuracy(modality_block(plain, modality), plain)
        baselines[f"LR on {modality}"] = {"test": [test], "C": c}
    concat = concatenation(plain, meta)
    val, test, c = logistic_accuracy(concat, plain)
    baselines["LR on all concatenated"] = {"test": [test], "C": c}
    with_neighbours = with_neighbour_mean(concat, plain.edge_index)
    val, test, c = logistic_accuracy(with_neighbours, plain)
    baselines["LR on all + neighbour mean"] = {"test": [test], "C": c}
    if lr_only:
        return baselines
    concat_x = np.concatenate([plain[f"x_{m}"].float().numpy() for m in meta.modalities], axis=1)
    sage = [sage_test_accuracy(concat_x, plain, len(meta.classes), s, epochs) for s in range(seeds)]
    baselines["hand-written 2-layer SAGE"] = {"test": sage}
    if autogluon:  # {"python": ..., "time_limit": ..., "work": ...}
        baselines[f"AutoGluon {PRESET} on all + neighbour mean"] = autogluon_result(
            with_neighbours, plain, name, seeds, **autogluon
        )
    return baselines


def dataset_rows(
    name: str, work: Path, seeds: int, max_epochs: int | None, autogluon: dict | None, lr_only: bool = False
) -> list[dict]:
    """GraphFuse's default and every baseline on one dataset, as rows (ours vs each baseline);
    ``lr_only``: the logistic regressions alone, without retraining GraphFuse (its figure is None)."""
    params, paths = prepared(name, work)
    if max_epochs:
        params = params.model_copy(update={"train": params.train.model_copy(update={"max_epochs": max_epochs})})
    data, meta = graph(params, paths)  # the default graph (kNN edges only if params.yaml turns them on)
    plain = data
    if params.build_graph.knn.enabled:  # the baselines get the dataset's own edges
        knn_off = params.build_graph.knn.model_copy(update={"enabled": False})
        no_knn = params.model_copy(update={"build_graph": params.build_graph.model_copy(update={"knn": knn_off})})
        plain, _ = graph(no_knn, paths)
    ours = [] if lr_only else [graphfuse_test_accuracy(data, meta, params, s) for s in range(seeds)]
    epochs = 100 if max_epochs else 200
    baselines = baseline_results(name, plain, meta, seeds, epochs, autogluon, lr_only)

    def pct(values: list[float]) -> tuple[float | None, float | None]:
        if not values:
            return None, None
        return 100 * statistics.mean(values), 100 * (statistics.stdev(values) if len(values) > 1 else 0.0)

    mean, sd = pct(ours)
    if ours:
        print(f"{name}: GraphFuse default {mean:.1f} ± {sd:.1f}  ({len(ours)} seeds)")
    fits = "one seed-free fit" if lr_only else f"{seeds} seeds"
    rows = []
    for label, result in baselines.items():
        b_mean, b_sd = pct(result["test"])
        deterministic = label.startswith("LR")
        print(
            f"{name}: {label:<28} {b_mean:.1f} ± {b_sd:.1f}"
            + (f"  (C={result['C']}, seed-free)" if deterministic else "")
        )
        slug = label.lower().replace(" ", "_").replace("+", "plus").replace("-", "")
        rows.append(
            row(
                f"accuracy_{name}_vs_{slug}",
                f"accuracy, {name}: GraphFuse default vs {label}",
                graphfuse=mean,
                baseline=b_mean,
                unit="% test acc",
                better="higher",
                size=f"{len(meta.node_ids)} nodes, {fits}, split seed 42 (60/20/20)",
                graphfuse_sd=sd,
                baseline_sd=b_sd,
                runs={"graphfuse": ours, "baseline": result["test"]},
                note="LogisticRegression (L-BFGS) is seed-free: one fit, sd 0" if deterministic else None,
                C=result.get("C"),
                **({"autogluon": result["autogluon"]} if "autogluon" in result else {}),
            )
        )
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--work", type=Path, required=True, help="cache folder for the features (reused)")
    parser.add_argument("--seeds", type=int, default=5)
    parser.add_argument("--max-epochs", type=int, default=None, help="cap GraphFuse's epochs (quick runs)")
    parser.add_argument("--json", type=Path, help="write the rows here (for benchmarks/run.py)")
    parser.add_argument("--autogluon-python", help="python of a venv with autogluon.tabular 1.6: adds its row")
    parser.add_argument("--autogluon-time-limit", type=float, default=TIME_LIMIT, help="seconds per AutoGluon fit")
    parser.add_argument(
        "--lr-only", action="store_true", help="only the logistic regressions (no GraphFuse, SAGE or AutoGluon fits)"
    )
    args = parse_with_datasets(parser, list(REAL), DATASETS)
    autogluon = None
    if args.autogluon_python:
        autogluon = {"python": args.autogluon_python, "time_limit": args.autogluon_time_limit, "work": args.work}
    rows = []
    for name in args.datasets:
        rows += dataset_rows(name, args.work, args.seeds, args.max_epochs, autogluon, args.lr_only)
        write_rows(args.json, rows)  # after every dataset, so a long run leaves what it finished


if __name__ == "__main__":
    main()
