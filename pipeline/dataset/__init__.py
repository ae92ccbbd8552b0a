"""Dataset folder format v1: the spec, loading with precise validation, and splits.

The names below load their module on first use (PEP 562), so reading a ``dataset.yaml`` alone
(:func:`load_spec`: ``graphfuse registry list`` derives the model name from it) does not import
pandas with the loaders.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from pipeline.lazy_exports import lazy_getattr

if TYPE_CHECKING:
    from pipeline.dataset.dataset import Dataset, LoadedDataset
    from pipeline.dataset.load import load_dataset
    from pipeline.dataset.schema import load_spec
    from pipeline.dataset.spec import DatasetSpec, EdgesSpec
    from pipeline.dataset.split import SPLITS, assign_splits, with_splits
    from pipeline.dataset.store import read_processed, write_processed

#: Full module names, so ``graphfuse dvc-deps`` counts them as imports of this package (they are, on use).
_HOMES = {
    "pipeline.dataset.dataset": ("Dataset", "LoadedDataset"),
    "pipeline.dataset.load": ("load_dataset",),
    "pipeline.dataset.schema": ("load_spec",),
    "pipeline.dataset.spec": ("DatasetSpec", "EdgesSpec"),
    "pipeline.dataset.split": ("SPLITS", "assign_splits", "with_splits"),
    "pipeline.dataset.store": ("read_processed", "write_processed"),
}

__all__ = [
    "SPLITS",
    "Dataset",
    "DatasetSpec",
    "EdgesSpec",
    "LoadedDataset",
    "assign_splits",
    "load_dataset",
    "load_spec",
    "read_processed",
    "with_splits",
    "write_processed",
]


__getattr__ = lazy_getattr(__name__, _HOMES, globals())
