"""The lockbox: a real dataset that no model is tuned or scored on until everything else is final.

``data/raw/unihan`` (see its README) is kept out of every default dataset list of the accuracy
benchmarks. ``accuracy_table.py`` and ``accuracy_baselines.py`` run it only when given
``--lockbox`` (alone: the lockbox datasets only; with ``--datasets``: those, which may then name
a lockbox dataset); naming it without the flag is an error. Its numbers are reported once, as they
come out (docs/accuracy.md, "Lockbox").

Run as a script, it prints the dataset's statistics and nothing else (no model is fit, no
prediction made): nodes, edges, classes and their sizes, isolated share, modality coverage, and
the edge homophily among the train nodes of the pipeline's split (validate.seed 42, 60/20/20).

    .venv/bin/python benchmarks/lockbox.py
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOCKBOX = {"unihan": REPO / "data" / "raw" / "unihan"}
FLAG_HELP = "also allow the lockbox datasets (alone: run only them); see benchmarks/lockbox.py"


def parse_with_datasets(
    parser: argparse.ArgumentParser, default: Sequence[str], known: Sequence[str], argv: Sequence[str] | None = None
) -> argparse.Namespace:
    """Parse with ``--datasets`` (default ``default``) and ``--lockbox``, which alone may name a lockbox dataset."""
    parser.add_argument("--datasets", nargs="+", choices=[*known, *LOCKBOX], help=f"default: {' '.join(default)}")
    parser.add_argument("--lockbox", action="store_true", help=FLAG_HELP)
    args = parser.parse_args(argv)
    args.datasets = chosen(args.datasets, args.lockbox, default, parser.error)
    return args


def chosen(named: Sequence[str] | None, lockbox: bool, default: Sequence[str], error=None) -> list[str]:
    """The datasets to run: ``named`` or ``default``; only the lockbox with ``lockbox`` and none named."""
    if named is None:
        return list(LOCKBOX) if lockbox else [d for d in default if d not in LOCKBOX]
    sealed = [d for d in named if d in LOCKBOX]
    if sealed and not lockbox:
        message = f"{', '.join(sealed)} is the lockbox: add --lockbox to run it (its numbers are reported once)"
        if error is None:
            raise ValueError(message)
        error(message)
    return list(named)


def statistics(name: str = "unihan") -> dict:
    """Shape of a lockbox dataset (see :func:`dataset_statistics`); no model, no test numbers."""
    return dataset_statistics(LOCKBOX[name])


def dataset_statistics(root: Path) -> dict:
    """Shape of the dataset at ``root``, read as the validate stage reads it and its graph counted as
    build_graph counts it (``pipeline.graph.graph_stats``: self-loops dropped, duplicates merged).

    graph_stats counts columns of the edge index, where an undirected edge is two; here an edge is
    an edge, so its edge counts are halved for an undirected dataset (homophily is the same either way).
    """
    import torch

    from pipeline.dataset import load_dataset, with_splits
    from pipeline.graph import build_edge_index, graph_stats

    dataset = with_splits(load_dataset(root), seed=42, val_fraction=0.2, test_fraction=0.2)
    directed = dataset.spec.edges.directed
    edge_index, _ = build_edge_index(dataset.edges, dataset.ids, directed=directed)
    edge_type = torch.zeros(edge_index.size(1), dtype=torch.long)  # the dataset's own edges only, no kNN
    y, train = torch.from_numpy(dataset.label_codes()), torch.from_numpy(dataset.in_split("train"))
    graph = graph_stats(edge_index, edge_type, y, train)
    columns_per_edge = 1 if directed else 2
    nodes = dataset.nodes
    modality_columns = {
        "text": dataset.spec.text_columns,
        "image": [dataset.spec.image_column],
        "tabular": [*dataset.spec.numeric_columns, *dataset.spec.categorical_columns],
    }
    coverage = {m: float(nodes[c].notna().any(axis=1).mean()) for m, c in modality_columns.items() if c and c[0]}
    return {
        "nodes": graph["nodes"],
        "edges": graph["edges"]["all"] // columns_per_edge,
        "classes": dataset.labels.value_counts().to_dict(),
        "isolated_share": graph["isolated_nodes"]["all"] / graph["nodes"],
        "coverage": coverage,
        "split": dataset.split.value_counts().to_dict(),
        "train_edges": graph["train_edges"]["all"] // columns_per_edge,
        "train_edge_homophily": graph["homophily_train"]["all"],
    }


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    for key, value in statistics().items():
        print(f"{key}: {value}")
