"""Stage validate: check the raw dataset folder, assign the split, write the processed copy."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from pipeline.config import Params, ValidateParams
from pipeline.dataset import LoadedDataset, load_dataset, with_splits, write_processed
from pipeline.paths import Paths


def checked_dataset(dataset_dir: str | Path, split: ValidateParams, task: str | None = None) -> LoadedDataset:
    """Every check the pipeline makes of a dataset folder, images decoded and split assigned;
    ``graphfuse validate`` runs exactly this, so what it accepts the pipeline accepts.

    ``task`` (params.yaml ``dataset.task``) overrides the yaml's task: the same folder, its
    edges as the target."""
    dataset = load_dataset(dataset_dir, require_labels=task != "link_prediction")
    if task and task != dataset.spec.task:
        dataset = dataclasses.replace(dataset, spec=dataset.spec.model_copy(update={"task": task}))
    if dataset.spec.is_link_prediction:
        from pipeline.tasks.link.split import with_edge_splits

        return with_edge_splits(
            dataset,
            seed=split.seed,
            val_fraction=split.val_fraction,
            test_fraction=split.test_fraction,
            mode=split.edge_split,
        )
    return with_splits(dataset, seed=split.seed, val_fraction=split.val_fraction, test_fraction=split.test_fraction)


def run(params: Params, paths: Paths) -> dict:
    dataset = checked_dataset(paths.under_root(params.dataset.dir), params.validate_, params.dataset.task)
    summary = write_processed(dataset, paths.dataset, project_root=paths.root)
    return {"counts": summary["counts"], "notes": list(dataset.notes)}
