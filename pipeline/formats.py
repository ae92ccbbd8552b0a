"""Format versions of the files stages hand each other: an output another version wrote is a
clear error naming what to rerun, never a silent misreading."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pipeline.errors import GraphFuseError

DATASET_STORE = 1  # data/processed/dataset/dataset.json
FEATURES = 2  # data/processed/features/<modality>/manifest.json ("format"); 1 was one safetensors file
GRAPH = 1  # data/processed/graph/graph.json
BUNDLE = 1  # models/model.json


def check_format(path: str | Path, found: Any, expected: int, rerun: str) -> None:
    """Raise unless ``found`` (the version stored in ``path``) is ``expected``."""
    if str(found) == str(expected):
        return
    written = "no format version (an older GraphFuse)" if found is None else f"format {found}"
    raise GraphFuseError(
        f"{path}: written with {written}; this GraphFuse reads format {expected}. "
        f"Rerun {rerun} to rewrite it (`dvc repro` reruns what is needed)"
    )
