"""Stage validate: check the raw dataset folder, assign the split, write the processed copy."""

from __future__ import annotations

from pipeline.config import Params
from pipeline.dataset import load_dataset, with_splits, write_processed
from pipeline.paths import Paths


def run(params: Params, paths: Paths) -> dict:
    dataset = load_dataset(paths.under_root(params.dataset.dir))
    split = params.validate_
    dataset = with_splits(dataset, seed=split.seed, val_fraction=split.val_fraction, test_fraction=split.test_fraction)
    summary = write_processed(dataset, paths.dataset, project_root=paths.root)
    return {"counts": summary["counts"], "notes": list(dataset.notes)}
