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
    """Shape of a lockbox dataset, read as the validate stage reads it; no model, no test numbers."""
    from pipeline.dataset import load_dataset, with_splits

    dataset = with_splits(load_dataset(LOCKBOX[name]), seed=42, val_fraction=0.2, test_fraction=0.2)
    nodes, edges, ids = dataset.nodes, dataset.edges, dataset.spec.id_column
    label = nodes.set_index(ids)[dataset.spec.label_column]
    split = dataset.split.set_axis(nodes[ids])
    source, target = dataset.spec.edges.source, dataset.spec.edges.target
    connected = set(edges[source]) | set(edges[target])
    train = edges[(split.loc[edges[source]].to_numpy() == "train") & (split.loc[edges[target]].to_numpy() == "train")]
    same = (label.loc[train[source]].to_numpy() == label.loc[train[target]].to_numpy()).mean()
    columns = {
        "text": dataset.spec.text_columns,
        "image": [dataset.spec.image_column],
        "tabular": [*dataset.spec.numeric_columns, *dataset.spec.categorical_columns],
    }
    coverage = {m: float(nodes[c].notna().any(axis=1).mean()) for m, c in columns.items() if c and c[0]}
    return {
        "nodes": len(nodes),
        "edges": len(edges),
        "classes": label.value_counts().to_dict(),
        "isolated_share": 1 - len(connected) / len(nodes),
        "coverage": coverage,
        "split": split.value_counts().to_dict(),
        "train_edges": len(train),
        "train_edge_homophily": float(same),
    }


if __name__ == "__main__":
    sys.path.insert(0, str(REPO))
    for key, value in statistics().items():
        print(f"{key}: {value}")
