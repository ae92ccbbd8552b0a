"""Dataset folder format v1: the spec, loading with precise validation, and splits."""

from pipeline.dataset.dataset import Dataset, LoadedDataset
from pipeline.dataset.load import load_dataset
from pipeline.dataset.schema import load_spec
from pipeline.dataset.spec import DatasetSpec, EdgesSpec
from pipeline.dataset.split import SPLITS, assign_splits, with_splits
from pipeline.dataset.store import read_processed, write_processed

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
