"""Stage validate: check the raw dataset folder, assign the split, write the processed copy."""

from __future__ import annotations

from pathlib import Path

from pipeline.config import Params, ValidateParams
from pipeline.dataset import Dataset, load_dataset, with_splits, write_processed
from pipeline.paths import Paths


def checked_dataset(dataset_dir: str | Path, split: ValidateParams) -> Dataset:
    """Every check the pipeline makes of a dataset folder, images decoded and split assigned;
    ``graphfuse validate`` runs exactly this, so what it accepts the pipeline accepts."""
    dataset = load_dataset(dataset_dir)
    return with_splits(dataset, seed=split.seed, val_fraction=split.val_fraction, test_fraction=split.test_fraction)


def run(params: Params, paths: Paths) -> dict:
    dataset = checked_dataset(paths.under_root(params.dataset.dir), params.validate_)
    summary = write_processed(dataset, paths.dataset, project_root=paths.root)
    return {"counts": summary["counts"], "notes": list(dataset.notes)}
